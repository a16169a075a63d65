"""Settings fail when the module loads, with the field to fix named."""

import pytest

from claimflow import FailurePolicy, InvalidSettingsError, WorkflowSettings, WorkflowTrigger


def settings(**changes: object) -> WorkflowSettings:
    fields: dict[str, object] = {
        "id": "wf",
        "trigger": WorkflowTrigger.UserTokenGeneration,
        "bindings": {"kinde.accessToken": {}},
    }
    fields.update(changes)
    return WorkflowSettings(**fields)  # type: ignore[arg-type]


def test_seed_settings_are_accepted_with_stop_as_the_default_policy() -> None:
    workflow = settings(bindings={"kinde.accessToken": {}, "kinde.fetch": {}, "url": {}})
    assert workflow.workflow_trigger is WorkflowTrigger.UserTokenGeneration
    assert workflow.policy is FailurePolicy.STOP


@pytest.mark.parametrize("policy", ["continue", {"action": "continue"}, FailurePolicy.CONTINUE])
def test_failure_policy_is_accepted_as_string_or_as_the_seeds_action_object(policy: object) -> None:
    assert settings(failure_policy=policy).policy is FailurePolicy.CONTINUE


def test_unknown_trigger_names_the_field_and_the_valid_triggers() -> None:
    with pytest.raises(
        InvalidSettingsError, match=r"workflow_settings\.trigger: 'user:login' is not a trigger.*user:tokens_generation"
    ):
        settings(trigger="user:login")


def test_a_seed_trigger_claimflow_does_not_run_is_refused_as_such() -> None:
    with pytest.raises(InvalidSettingsError, match="'user:pre_mfa' is a seed trigger claimflow does not run yet"):
        settings(trigger="user:pre_mfa")


def test_unknown_binding_is_refused_with_the_known_ones() -> None:
    with pytest.raises(InvalidSettingsError, match=r"bindings: 'kinde.fetchh' is not a binding; use one of: kinde.accessToken"):
        settings(bindings={"kinde.fetchh": {}})


def test_bad_policy_names_the_field() -> None:
    with pytest.raises(InvalidSettingsError, match=r"workflow_settings\.failure_policy: 'retry' is not a policy"):
        settings(failure_policy="retry")


def test_binding_options_are_checked_by_name_and_type() -> None:
    with pytest.raises(InvalidSettingsError, match=r"\['kinde.accessToken'\]: unknown option 'reset'"):
        settings(bindings={"kinde.accessToken": {"reset": True}})
    with pytest.raises(InvalidSettingsError, match=r"resetClaims must be a bool"):
        settings(bindings={"kinde.accessToken": {"resetClaims": "yes"}})


def test_a_token_binding_must_match_the_trigger() -> None:
    with pytest.raises(InvalidSettingsError, match="'kinde.m2mToken' does not apply to trigger 'user:tokens_generation'"):
        settings(bindings={"kinde.m2mToken": {}})
    with pytest.raises(InvalidSettingsError, match="'kinde.accessToken' does not apply to trigger 'm2m:token_generation'"):
        settings(trigger="m2m:token_generation")


@pytest.mark.parametrize("bad_id", ["", "1abc", "has space", "x" * 65, None])
def test_id_must_be_a_short_identifier(bad_id: object) -> None:
    with pytest.raises(InvalidSettingsError, match=r"workflow_settings\.id"):
        settings(id=bad_id)


def test_url_allowlist_must_list_hosts() -> None:
    with pytest.raises(InvalidSettingsError, match="allowedHosts must list host names"):
        settings(bindings={"url": {"allowedHosts": ["api.example.com", 3]}})
