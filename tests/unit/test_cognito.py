"""Cognito's Pre Token Generation trigger: the same workflows and rules, Cognito's answer shape."""

from __future__ import annotations

import time
from typing import Any

import pytest

from claimflow.errors import ContractError
from claimflow.issuer import AccessDeniedError, WorkflowFailedError, WorkflowRegistration, WorkflowRegistry
from claimflow.issuer.hooks import customize, find_event_hook
from claimflow.issuer.hooks.cognito import CognitoPreTokenGeneration
from claimflow.issuer.service import WorkflowRunner
from claimflow.issuer.workflow_invoker import InProcessWorkflowInvoker
from tests.support import sample
from tests.unit.issuing import failing, reply


def runner(*workflows: tuple[str, Any, str], trigger: str = "user:tokens_generation", timeout_ms: int = 2000) -> WorkflowRunner:
    registry = WorkflowRegistry(
        [
            WorkflowRegistration(id=w, trigger=trigger, function=w, failure_policy=p, timeout_ms=timeout_ms)  # type: ignore[arg-type]
            for w, _, p in workflows
        ]
    )
    return WorkflowRunner(registry, InProcessWorkflowInvoker({w: h for w, h, _ in workflows}))


def pre_token_generation(runner: WorkflowRunner, event: dict[str, Any], *, budget_ms: int = 4500) -> Any:
    """What the issuer's entry point does with a Cognito event."""
    hook = find_event_hook(event)
    assert isinstance(hook, CognitoPreTokenGeneration)
    return customize(hook, runner, event, budget_ms=budget_ms)


def patch(workflow_id: str, token: str, claims: dict[str, Any]) -> Any:
    def handler(payload: dict[str, Any], context: Any) -> dict[str, Any]:
        answer = reply(workflow_id)
        answer["patches"] = {token: {"set": claims, "reset": False}}
        handler.seen = payload  # type: ignore[attr-defined]
        return answer

    return handler


def test_a_user_sign_in_gets_the_workflows_claims_in_both_tokens() -> None:
    access = patch("a", "access_token", {"plan": "pro"})
    event = sample("cognito.v2-user-authentication.json")
    answer = pre_token_generation(runner(("a", access, "stop")), event)
    details = answer["response"]["claimsAndScopeOverrideDetails"]
    assert details["accessTokenGeneration"]["claimsToAddOrOverride"] == {"plan": "pro"}
    assert details["idTokenGeneration"]["claimsToAddOrOverride"] == {}
    assert answer["userPoolId"] == event["userPoolId"]  # Cognito wants its event back
    seen = access.seen["event"]  # type: ignore[attr-defined]
    assert seen["context"]["user"]["id"] == event["request"]["userAttributes"]["sub"]
    assert seen["context"]["application"]["clientId"] == event["callerContext"]["clientId"]
    assert seen["request"]["auth"]["audience"] == ["https://api.example.com/v1"]


def test_client_credentials_v3_reach_m2m_workflows() -> None:
    org = patch("org", "m2m_token", {"org_code": "org_1"})
    answer = pre_token_generation(
        runner(("org", org, "stop"), trigger="m2m:token_generation"), sample("cognito.v3-client-credentials.json")
    )
    details = answer["response"]["claimsAndScopeOverrideDetails"]
    assert details == {
        "accessTokenGeneration": {
            "claimsToAddOrOverride": {"org_code": "org_1"},
            "claimsToSuppress": [],
            "scopesToAdd": [],
            "scopesToSuppress": [],
        }
    }


def test_a_denial_fails_the_sign_in_with_its_reason() -> None:
    deny = lambda p, c: reply("guard", "denied", reason="account locked")  # noqa: E731
    with pytest.raises(AccessDeniedError, match="account locked"):
        pre_token_generation(runner(("guard", deny, "stop")), sample("cognito.v2-user-authentication.json"))


def test_stop_fails_the_sign_in_continue_signs_in_without_the_claims() -> None:
    with pytest.raises(WorkflowFailedError, match="workflow 'w'"):
        pre_token_generation(runner(("w", failing("w"), "stop")), sample("cognito.v2-user-authentication.json"))
    answer = pre_token_generation(runner(("w", failing("w"), "continue")), sample("cognito.v2-user-authentication.json"))
    assert answer["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]["claimsToAddOrOverride"] == {}


@pytest.mark.parametrize("claim", ["username", "token_use", "origin_jti", "sub"])
def test_cognitos_locked_claims_are_reserved(claim: str) -> None:
    with pytest.raises(WorkflowFailedError, match=claim):
        pre_token_generation(
            runner(("w", patch("w", "access_token", {claim: "x"}), "stop")), sample("cognito.v2-user-authentication.json")
        )


def test_the_cognito_namespace_is_that_workflows_failure_under_its_policy() -> None:
    namespaced = {"cognito:groups": ["admin"]}
    with pytest.raises(WorkflowFailedError, match="'cognito:groups' is a reserved claim of the id_token .*cognito: namespace"):
        pre_token_generation(
            runner(("w", patch("w", "id_token", namespaced), "stop")), sample("cognito.v2-user-authentication.json")
        )
    answer = pre_token_generation(
        runner(
            ("plan", patch("plan", "access_token", {"plan": "pro"}), "stop"),
            ("w", patch("w", "id_token", namespaced), "continue"),
        ),
        sample("cognito.v2-user-authentication.json"),
    )
    details = answer["response"]["claimsAndScopeOverrideDetails"]
    assert details["accessTokenGeneration"]["claimsToAddOrOverride"] == {"plan": "pro"}
    assert details["idTokenGeneration"]["claimsToAddOrOverride"] == {}


def test_workflows_are_told_what_cognito_reserves_so_their_own_checks_refuse_it() -> None:
    seen = patch("w", "access_token", {})
    pre_token_generation(runner(("w", seen, "stop")), sample("cognito.v2-user-authentication.json"))
    reserved = seen.seen["reserved"]  # type: ignore[attr-defined]
    assert reserved["prefixes"] == ["cognito:"]
    assert "token_use" in reserved["claims"]["access_token"] and "username" in reserved["claims"]["id_token"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": "1"}, "version '1' is not supported"),
        ({"triggerSource": "TokenGeneration_ClientCredentials"}, "need the V3_0 trigger event"),
        ({"callerContext": {}}, "no callerContext.clientId"),
    ],
)
def test_events_claimflow_cannot_serve_are_refused_clearly(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ContractError, match=message):
        pre_token_generation(runner(), {**sample("cognito.v2-user-authentication.json"), **change})


def test_the_budget_stays_under_cognitos_five_seconds() -> None:
    def slow(payload: Any, context: Any) -> Any:
        time.sleep(6)

    started = time.perf_counter()
    with pytest.raises(WorkflowFailedError, match="issuance budget"):
        pre_token_generation(
            runner(("slow", slow, "stop"), timeout_ms=10_000), sample("cognito.v2-user-authentication.json"), budget_ms=20_000
        )
    assert time.perf_counter() - started < 4.8
