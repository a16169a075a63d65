"""The replay engine on in-process workflows: a recorded login replays to the same claims; a
changed rule shows as the claims it changes (old → new) with who set them; ``--workflow``
replays one workflow and keeps the others' recorded replies; a removed workflow's claims go;
a denial is an outcome change; what a replay cannot answer is an error, never a guess."""

from __future__ import annotations

import json
from typing import Any

import pytest

from claimflow import WorkflowSettings, access_token_custom_claims, create_handler, deny_access, fetch, get_environment_variable
from claimflow.infra.secrets import container_secrets
from claimflow.issuer import InProcessWorkflowInvoker, WorkflowRegistration, WorkflowRegistry
from claimflow.record import RecordingError
from claimflow.record.recorder import Recorder
from claimflow.record.sinks import InMemorySink
from claimflow_local.replay import Replayer, env_values_from_settings
from tests.support import load_workflow
from tests.unit.fakes import services
from tests.unit.issuing import issuer_with, user_request

SEED = {
    "addThirdPartyDataToAccessToken": "add_third_party_data_to_access_token",
    "addThirdPartyDataUsingEnvs": "add_third_party_data_using_envs",
}


def seed_function(workflow_id: str) -> Any:
    return load_workflow(SEED[workflow_id]).fetch_third_party_data_workflow


def recorded_login(**request: Any) -> dict[str, Any]:
    handlers = []
    for workflow_id in SEED:
        module = load_workflow(SEED[workflow_id])
        handlers.append(
            (workflow_id, create_handler(module.workflow_settings, seed_function(workflow_id), services=services()), "stop")
        )
    issuer = issuer_with(handlers)
    issuer.recorder = Recorder(InMemorySink(), sample_rate=1.0, stage="test", secrets=container_secrets())
    issuer.issue(user_request(**request))
    assert issuer.recorder.writer.flush(10)
    [body] = issuer.recorder.writer.sink.recordings.values()
    document: dict[str, Any] = json.loads(body)
    return document


def offline(workflow_id: str, function: Any, settings: WorkflowSettings | None = None) -> Any:
    """The workflow as a replay runs it: local mode, no third party, no variables."""
    settings = settings or load_workflow(SEED[workflow_id]).workflow_settings
    return create_handler(settings, function, services=services(routes={}, parameters={}, local_mode=True))


def replayer(handlers: dict[str, Any], **options: Any) -> Replayer:
    registry = WorkflowRegistry(
        [WorkflowRegistration(id=wid, trigger="user:tokens_generation", function=f"fn-{wid}") for wid in handlers]  # type: ignore[arg-type]
    )
    return Replayer(InProcessWorkflowInvoker({f"fn-{wid}": h for wid, h in handlers.items()}), registry, **options)


def unchanged_handlers() -> dict[str, Any]:
    return {wid: offline(wid, seed_function(wid)) for wid in SEED}


def test_an_unchanged_login_replays_to_the_same_claims() -> None:
    recording = recorded_login()
    result = replayer(unchanged_handlers()).replay(recording)
    assert (result.errors, result.changes, result.changed) == ([], [], False)
    assert result.replayed_outcome == result.recorded_outcome == "issued"
    assert [w.recorded == w.replayed for w in result.workflows] == [True, True]  # the same code, the same hash


def stricter(event: Any) -> None:
    """The tutorial's rule, changed: only a first sign-in counts as a lifetime subscriber."""
    api_key = get_environment_variable("API_KEY")
    data = fetch(
        f"https://my-website.com/api/user/{event.context.user.id}",
        headers={"Authorization": f"Bearer {api_key.value}"},  # type: ignore[union-attr]
    ).data
    first = event.context.auth.origin == "authorization_request" and not event.context.auth.isExistingSession
    access_token_custom_claims().lifetime_subscriber = bool(data.get("lifetime_subscriber")) and not first


def test_a_changed_rule_shows_the_claim_it_changes_and_who_set_it_then_and_now() -> None:
    recording = recorded_login()
    handlers = unchanged_handlers() | {"addThirdPartyDataUsingEnvs": offline("addThirdPartyDataUsingEnvs", stricter)}
    result = replayer(handlers).replay(recording)
    assert result.errors == [] and result.changed
    [change] = result.changes
    assert (change.token, change.claim, change.change, change.old, change.new) == (
        "access_token",
        "lifetime_subscriber",
        "changed",
        True,
        False,
    )
    then, now = result.setters[("access_token", "lifetime_subscriber")]
    assert then is not None and now is not None
    assert then.startswith("addThirdPartyDataUsingEnvs @$LATEST (code:") and now.startswith(
        "addThirdPartyDataUsingEnvs @$LATEST (code:"
    )
    assert then != now  # the version names the code that ran
    assert result.tokens["access_token"] == recording["tokens"]["access_token"]["jti"]


def test_one_workflow_replays_alone_the_others_keep_their_recorded_replies() -> None:
    recording = recorded_login()
    calls: list[str] = []

    def must_not_run(event: Any) -> None:
        calls.append("ran")

    handlers = {
        "addThirdPartyDataToAccessToken": offline("addThirdPartyDataToAccessToken", must_not_run),
        "addThirdPartyDataUsingEnvs": offline("addThirdPartyDataUsingEnvs", stricter),
    }
    result = replayer(handlers, only="addThirdPartyDataUsingEnvs").replay(recording)
    assert calls == [] and [c.claim for c in result.changes] == ["lifetime_subscriber"]
    assert result.workflows[0].replayed == "recorded"
    with pytest.raises(RecordingError, match="no such workflow"):
        replayer(handlers, only="nope")


def test_a_removed_workflow_takes_its_claims_with_it() -> None:
    recording = recorded_login()
    result = replayer({"addThirdPartyDataToAccessToken": offline("addThirdPartyDataToAccessToken", lambda event: None)}).replay(
        recording
    )
    assert [(c.claim, c.change) for c in result.changes] == [("lifetime_subscriber", "removed")]
    assert [(w.id, w.replayed_outcome) for w in result.workflows][-1] == ("addThirdPartyDataUsingEnvs", "removed")


def test_a_denial_is_an_outcome_change() -> None:
    recording = recorded_login()
    settings = WorkflowSettings(id="addThirdPartyDataUsingEnvs", trigger="user:tokens_generation", bindings={"kinde.auth": {}})
    handlers = unchanged_handlers() | {"addThirdPartyDataUsingEnvs": offline("x", lambda event: deny_access("no more"), settings)}
    result = replayer(handlers).replay(recording)
    assert (result.recorded_outcome, result.replayed_outcome, result.changed) == ("issued", "denied", True)
    assert "no more" in result.detail


def test_a_fetch_the_recording_lacks_is_an_error_naming_it_not_a_change() -> None:
    recording = recorded_login()

    def elsewhere(event: Any) -> None:
        access_token_custom_claims().plan = fetch("https://my-website.com/api/plan").data

    handlers = unchanged_handlers() | {"addThirdPartyDataUsingEnvs": offline("addThirdPartyDataUsingEnvs", elsewhere)}
    result = replayer(handlers).replay(recording)
    assert not result.changed
    assert result.errors == [
        "addThirdPartyDataUsingEnvs: the recording has no answer for fetch GET https://my-website.com/api/plan "
        f"({recording['id']})"
    ]


def test_a_plain_variable_gets_its_value_from_the_local_settings_or_is_an_error() -> None:
    recording = recorded_login()
    recording["workflows"][1]["env"].append({"name": "API_REGION", "set": True, "secret": False})
    result = replayer(unchanged_handlers()).replay(recording)
    assert any("plain variable API_REGION" in error for error in result.errors)
    settings = {"env": {"workflows": {"addThirdPartyDataUsingEnvs": {"API_REGION": {"value": "eu-west-1", "secret": False}}}}}
    values = env_values_from_settings(settings)
    assert values("addThirdPartyDataUsingEnvs", "API_REGION") == "eu-west-1" and values("other", "API_REGION") is None
    assert replayer(unchanged_handlers(), env_values=values).replay(recording).errors == []


def test_a_file_that_is_not_a_recording_is_kept_as_an_error_naming_it(tmp_path: Any) -> None:
    from claimflow_local.replay import load_recordings

    (tmp_path / "good.json").write_text(json.dumps(recorded_login()))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bad.json").write_text('{"contract": "something else"}')
    loaded = load_recordings([tmp_path])
    assert [r.document is not None for r in loaded] == [False, True]  # errors first, then by time
    assert loaded[0].error is not None and "bad.json: not a recording" in loaded[0].error
