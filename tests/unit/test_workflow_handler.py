"""The seed's workflows and the handler adapter, on in-memory fakes: every outcome is a
well-formed reply, and no patch escapes a failure or a denial."""

from __future__ import annotations

from typing import Any

import pytest

from claimflow import (
    EventView,
    OutsideInvocationError,
    WorkflowSettings,
    access_token_custom_claims,
    create_handler,
    deny_access,
    fetch,
    get_environment_variable,
    id_token_custom_claims,
)
from claimflow.infra.http_client import HttpResponse
from tests.support import load_workflow
from tests.unit.fakes import API, SECRET, USER_ID, invocation, services

USER = "user:tokens_generation"


def run(
    settings: WorkflowSettings, function: Any, request: dict[str, Any] | None = None, **service_options: Any
) -> dict[str, Any]:
    handler = create_handler(settings, function, services=services(**service_options))
    return handler(request or invocation(settings.id), None)


def test_first_seed_workflow_adds_lifetime_subscriber_from_the_third_party() -> None:
    module = load_workflow("add_third_party_data_to_access_token")
    result = run(module.workflow_settings, module.fetch_third_party_data_workflow)
    assert result["outcome"] == "ok"
    assert result["patches"] == {"access_token": {"set": {"lifetime_subscriber": True}, "reset": False}}


def test_second_seed_workflow_sends_the_secret_api_key_as_bearer() -> None:
    module = load_workflow("add_third_party_data_using_envs")
    svc = services()
    handler = create_handler(module.workflow_settings, module.fetch_third_party_data_workflow, services=svc)
    result = handler(invocation("addThirdPartyDataUsingEnvs"), None)
    assert result["patches"]["access_token"]["set"] == {"lifetime_subscriber": True}
    sent = svc.http.requests[0]  # type: ignore[attr-defined]
    assert sent.headers["Authorization"] == f"Bearer {SECRET}"


def test_second_seed_workflow_without_api_key_logs_an_error_and_adds_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    module = load_workflow("add_third_party_data_using_envs")
    result = run(
        module.workflow_settings, module.fetch_third_party_data_workflow, invocation("addThirdPartyDataUsingEnvs"), parameters={}
    )
    assert result["outcome"] == "ok"
    assert result["patches"] == {"access_token": {"set": {}, "reset": False}}
    assert "API_KEY environment variable is not set" in capsys.readouterr().out


def test_a_third_party_user_who_is_not_a_subscriber_gets_false() -> None:
    module = load_workflow("add_third_party_data_to_access_token")
    routes = {("GET", f"{API}/api/user/{USER_ID}"): HttpResponse(200, {}, b'{"lifetime_subscriber": null}')}
    result = run(module.workflow_settings, module.fetch_third_party_data_workflow, routes=routes)
    assert result["patches"]["access_token"]["set"] == {"lifetime_subscriber": False}


@pytest.mark.parametrize(
    ("answer", "error_type", "message"),
    [
        (HttpResponse(200, {}, b"<html>not json</html>"), "FetchError", "the body is not JSON"),
        (HttpResponse(200, {}, b'{"lifetime_subscriber": tru'), "FetchError", "the body is not JSON"),
    ],
)
@pytest.mark.parametrize("policy", ["stop", "continue"])
def test_third_party_failures_fail_the_workflow_with_a_named_error(
    answer: HttpResponse, error_type: str, message: str, policy: str
) -> None:
    module = load_workflow("add_third_party_data_to_access_token")
    settings = WorkflowSettings(**{**module.workflow_settings.__dict__, "failure_policy": policy})
    result = run(settings, module.fetch_third_party_data_workflow, routes={("GET", f"{API}/api/user/{USER_ID}"): answer})
    assert result["outcome"] == "failed"
    assert result["failure_policy"] == policy
    assert result["patches"] == {}
    assert result["error"]["type"] == error_type
    assert message in result["error"]["message"]
    assert f"{API}/api/user/{USER_ID}" in result["error"]["message"]


def test_deny_access_produces_denied_with_the_reason_and_no_patch() -> None:
    settings = WorkflowSettings(id="deny", trigger=USER, bindings={"kinde.auth": {}, "kinde.accessToken": {}})

    def workflow(event: EventView) -> None:
        access_token_custom_claims()["plan"] = "free"
        deny_access("account suspended")

    result = run(settings, workflow, invocation("deny"))
    assert (result["outcome"], result["reason"], result["patches"]) == ("denied", "account suspended", {})


def test_an_undeclared_binding_fails_with_the_seeds_message() -> None:
    settings = WorkflowSettings(id="nofetch", trigger=USER, bindings={"kinde.accessToken": {}})

    def workflow(event: EventView) -> None:
        fetch(f"{API}/x")

    result = run(settings, workflow, invocation("nofetch"))
    assert result["error"]["type"] == "BindingNotAvailableError"
    assert result["error"]["message"] == "kinde.fetch binding not available, please add to workflow settings to enable"


@pytest.mark.parametrize(
    ("bindings", "call", "missing"),
    [
        ({"kinde.fetch": {}}, lambda: fetch(f"{API}/x"), "url"),
        ({}, lambda: get_environment_variable("X"), "kinde.env"),
        ({}, id_token_custom_claims, "kinde.idToken"),
        ({}, lambda: deny_access("no"), "kinde.auth"),
    ],
)
def test_each_binding_gates_its_function(bindings: dict[str, Any], call: Any, missing: str) -> None:
    settings = WorkflowSettings(id="gated", trigger=USER, bindings=bindings)

    result = run(settings, lambda event: call(), invocation("gated"))
    assert result["error"]["message"].startswith(f"{missing} binding not available")


@pytest.mark.parametrize("claim", ["sub", "iss", "aud", "exp", "jti", "scp", "client_id"])
def test_a_workflow_setting_a_reserved_claim_fails_and_sets_nothing(claim: str) -> None:
    settings = WorkflowSettings(id="greedy", trigger=USER, bindings={"kinde.accessToken": {}})

    def workflow(event: EventView) -> None:
        access_token_custom_claims()["ok"] = 1
        access_token_custom_claims()[claim] = "me"

    result = run(settings, workflow, invocation("greedy"))
    assert result["outcome"] == "failed"
    assert result["error"]["type"] == "ReservedClaimError"
    assert f"'{claim}' is a reserved claim of the access_token" in result["error"]["message"]
    assert result["patches"] == {}


def test_a_malformed_event_is_refused_before_the_workflow_runs() -> None:
    ran = []
    settings = WorkflowSettings(id="wf", trigger=USER, bindings={"kinde.accessToken": {}})
    request = invocation("wf")
    del request["event"]["context"]["user"]["id"]
    result = run(settings, lambda event: ran.append(event), request)
    assert ran == []
    assert result["error"]["type"] == "ContractError"
    assert result["error"]["code"] == "invalid_request"
    assert "request.event.context.user must contain ['id']" in result["error"]["message"]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("contract", "claimflow.workflow-invocation/v0", "request.contract must be same as const definition"),
        ("trigger", "user:pre_mfa", "request.trigger must be one of"),
        ("tokens", {"refresh_token": {}}, "must not contain"),
        ("workflow_id", "someoneElse", "was invoked as 'someoneElse'"),
    ],
)
def test_a_request_for_another_contract_or_workflow_is_refused(field: str, value: Any, expected: str) -> None:
    settings = WorkflowSettings(id="wf", trigger=USER, bindings={"kinde.accessToken": {}})
    request = invocation("wf")
    request[field] = value
    result = run(settings, lambda event: None, request)
    assert result["outcome"] == "failed"
    assert expected in result["error"]["message"]


def test_reset_claims_starts_from_no_custom_claims() -> None:
    settings = WorkflowSettings(id="reset", trigger=USER, bindings={"kinde.accessToken": {"resetClaims": True}})
    seen: list[dict[str, Any]] = []

    def workflow(event: EventView) -> None:
        seen.append(dict(access_token_custom_claims()))
        access_token_custom_claims()["plan"] = "pro"

    result = run(settings, workflow, invocation("reset", tokens={"access_token": {"legacy": 1}}))
    assert seen == [{}]
    assert result["patches"]["access_token"] == {"set": {"plan": "pro"}, "reset": True}


def test_current_custom_claims_are_visible_to_the_workflow() -> None:
    settings = WorkflowSettings(id="reader", trigger=USER, bindings={"kinde.accessToken": {}})

    def workflow(event: EventView) -> None:
        claims = access_token_custom_claims()
        claims.roles = [*claims["roles"], "auditor"]

    result = run(settings, workflow, invocation("reader", tokens={"access_token": {"roles": ["admin"]}}))
    assert result["patches"]["access_token"]["set"] == {"roles": ["admin", "auditor"]}


def test_an_async_workflow_runs_like_the_seeds_async_functions() -> None:
    settings = WorkflowSettings(id="asyncwf", trigger=USER, bindings={"kinde.accessToken": {}})

    async def workflow(event: EventView) -> None:
        access_token_custom_claims()["from_async"] = True

    assert run(settings, workflow, invocation("asyncwf"))["patches"]["access_token"]["set"] == {"from_async": True}


def test_ssm_unreachable_fails_the_env_workflow_with_a_parameter_store_error() -> None:
    module = load_workflow("add_third_party_data_using_envs")
    svc = services()
    svc.parameters.unreachable = True  # type: ignore[attr-defined]
    handler = create_handler(module.workflow_settings, module.fetch_third_party_data_workflow, services=svc)
    result = handler(invocation("addThirdPartyDataUsingEnvs"), None)
    assert result["error"]["type"] == "ParameterStoreError"
    assert result["error"]["code"] == "temporarily_unavailable"


def test_a_secret_value_never_reaches_logs_or_the_reply(capsys: pytest.CaptureFixture[str]) -> None:
    settings = WorkflowSettings(id="leaky", trigger=USER, bindings={"kinde.env": {}, "kinde.accessToken": {}, "console": {}})

    def workflow(event: EventView) -> None:
        from claimflow import console

        key = get_environment_variable("API_KEY")
        assert key is not None and key.is_secret
        console.log(f"calling with {key.value}", repr(key))
        raise RuntimeError(f"upstream rejected key {key.value}")

    result = run(settings, workflow, invocation("leaky"))
    out = capsys.readouterr().out
    assert SECRET not in out
    assert SECRET not in str(result)
    assert "upstream rejected key ••••" in result["error"]["message"]
    assert "calling with ••••" in out


def test_claimflow_functions_refuse_to_run_outside_an_invocation() -> None:
    with pytest.raises(OutsideInvocationError, match="inside the workflow function"):
        access_token_custom_claims()


def test_log_lines_carry_workflow_id_trigger_and_the_issuers_correlation_id(capsys: pytest.CaptureFixture[str]) -> None:
    import json as json_module

    module = load_workflow("add_third_party_data_to_access_token")
    run(
        module.workflow_settings,
        module.fetch_third_party_data_workflow,
        invocation("addThirdPartyDataToAccessToken", correlation_id="corr-7781"),
    )
    lines = [json_module.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    finished = next(line for line in lines if line["message"] == "workflow finished")
    assert finished["workflow_id"] == "addThirdPartyDataToAccessToken"
    assert finished["trigger"] == "user:tokens_generation"
    assert finished["correlation_id"] == "corr-7781"
    assert finished["claims_set"] == ["lifetime_subscriber"]


def test_workflows_starting_together_in_one_process_get_one_working_logger() -> None:
    # Concurrent first calls once made two Powertools Loggers for one service; the second had no
    # formatter, and every workflow on it failed with "'NoneType' object has no attribute 'append_keys'".
    import threading

    from claimflow.infra.logs import logger_for

    barrier, made, errors = threading.Barrier(8), [], []

    def first_use() -> None:
        barrier.wait()
        try:
            logger = logger_for("raced-service")
            logger.append_keys(workflow_id="raced")
            made.append(logger)
        except Exception as error:  # collected: the assertion below names it
            errors.append(error)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len({id(logger) for logger in made}) == 1
