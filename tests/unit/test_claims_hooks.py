"""Claims hooks over HTTP, on in-process workflows: each stack's call is authenticated before
anything runs, becomes the seed event, and is answered in that stack's shape; a denial and a
failure map to what each stack understands; what a stack locks is refused to workflows."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from claimflow.environment import SsmPaths
from claimflow.infra.parameters import InMemoryParameterStore
from claimflow.infra.secrets import SecretRegistry
from claimflow.issuer.hooks.authentication import sign_body
from claimflow.issuer.hooks.endpoint import HookEndpoint
from claimflow.issuer.hooks.generic import GenericClaimsHook
from claimflow.issuer.hooks.hydra import HydraTokenHook
from claimflow.issuer.hooks.replay import InMemoryReplayStore
from claimflow.issuer.hooks.zitadel import ZitadelAction
from tests.unit.issuing import failing, issuer_with, patching, reply, user_request

PATHS = SsmPaths(stage="test")
SECRETS = {"generic": "generic-secret-0001", "hydra": "hydra-api-key-0002", "zitadel": "zitadel-key-0003"}


def denying(workflow_id: str, reason: str) -> Any:
    return lambda payload, context: reply(workflow_id, "denied", reason=reason)


class Counting:
    """A workflow handler that counts its runs (to prove a refused call ran nothing)."""

    def __init__(self, handler: Any) -> None:
        self.handler, self.runs, self.payloads = handler, 0, []

    def __call__(self, payload: dict[str, Any], context: Any) -> Any:
        self.runs += 1
        self.payloads.append(payload)
        return self.handler(payload, context)


def endpoint(
    workflows: list[tuple[str, Any, str]], *, enabled: tuple[str, ...] = ("generic", "hydra", "zitadel")
) -> HookEndpoint:
    issuer = issuer_with(workflows)
    store = InMemoryParameterStore({PATHS.hook_secret(route): (secret, True) for route, secret in SECRETS.items()})
    hooks = {
        "hydra": HydraTokenHook(domain="https://op.example"),
        "zitadel": ZitadelAction(domain="https://zitadel.example"),
        "generic": GenericClaimsHook(config=issuer.config),
    }
    return HookEndpoint(
        hooks,
        issuer.workflows,
        store,
        replays=InMemoryReplayStore(),
        enabled=enabled,
        budget_ms=3000,
        paths=PATHS,
        secrets=SecretRegistry(),
    )


def call(hooks: HookEndpoint, route: str, body: Any, headers: dict[str, str], *, method: str = "POST") -> tuple[int, Any]:
    raw = json.dumps(body).encode()
    event = {
        "rawPath": f"/hooks/{route}",
        "requestContext": {"http": {"method": method}},
        "headers": headers,
        "body": base64.b64encode(raw).decode(),
        "isBase64Encoded": True,
    }
    answer = hooks.handle(event)
    return answer["statusCode"], json.loads(answer["body"]) if answer["body"] else None


def signed(route: str, body: Any, *, header: str, now: int | None = None) -> tuple[Any, dict[str, str]]:
    return body, {header: sign_body(SECRETS[route], json.dumps(body).encode(), now=int(time.time()) if now is None else now)}


def test_the_generic_hook_answers_the_workflows_claims_without_signing_anything() -> None:
    hooks = endpoint([("plan", patching("plan", {"plan": "pro"}), "stop")])
    status, body = call(hooks, "generic", *signed("generic", user_request(), header="X-Claimflow-Signature"))
    assert status == 200
    assert body["contract"] == "claimflow.claims-hook-reply/v1"
    assert body["claims"]["access_token"] == {"plan": "pro"}
    assert "access_token" not in json.dumps(body).replace('"access_token": {', "")  # no JWT anywhere


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (lambda: {}, "missing X-Claimflow-Signature"),
        (lambda: {"X-Claimflow-Signature": "t=1,v1=" + "0" * 64}, "s old; the limit is 300 s"),
        (lambda: {"X-Claimflow-Signature": f"t={int(time.time())},v1=" + "0" * 64}, "does not match the body"),
        (lambda: {"X-Claimflow-Signature": "v1=abc"}, "must be t=<unix seconds>,v1="),
    ],
)
def test_an_unauthenticated_or_stale_call_is_a_bare_401_runs_nothing_and_logs_why(
    headers: Any, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow = Counting(patching("plan", {"plan": "pro"}))
    hooks = endpoint([("plan", workflow, "stop")])
    status, body = call(hooks, "generic", user_request(), headers())  # signed when the test runs, not when collected
    assert (status, body) == (401, {"error": "invalid_client"})
    assert why in capsys.readouterr().out
    assert workflow.runs == 0


def test_a_replayed_signature_is_refused_the_second_time(capsys: pytest.CaptureFixture[str]) -> None:
    workflow = Counting(patching("plan", {"plan": "pro"}))
    hooks = endpoint([("plan", workflow, "stop")])
    request, headers = signed("generic", user_request(), header="X-Claimflow-Signature")
    assert call(hooks, "generic", request, headers)[0] == 200
    assert call(hooks, "generic", request, headers) == (401, {"error": "invalid_client"})
    assert "the generic hook's call was already used (a replay)" in capsys.readouterr().out
    assert workflow.runs == 1


def test_a_denial_and_a_failure_reach_the_generic_caller_as_oauth_errors() -> None:
    denied = endpoint([("gate", denying("gate", "no seat left on this plan"), "stop")])
    assert call(denied, "generic", *signed("generic", user_request(), header="X-Claimflow-Signature")) == (
        403,
        {"error": "access_denied", "error_description": "no seat left on this plan"},
    )
    failed = endpoint([("crm", failing("crm"), "stop")])
    status, body = call(failed, "generic", *signed("generic", user_request(), header="X-Claimflow-Signature"))
    assert status == 500 and body["error"] == "server_error" and "crm" in body["error_description"]


HYDRA_CALL = {
    "session": {
        "id_token": {"id_token_claims": {"sub": "kp_1", "ext": {"tenant": "t1"}}, "subject": "kp_1"},
        "extra": {"consented": True},
        "client_id": "app-client",
    },
    "request": {
        "client_id": "app-client",
        "granted_scopes": ["openid", "offline"],
        "granted_audience": ["https://api.example.com"],
        "grant_types": ["authorization_code"],
    },
}


def test_hydra_gets_the_whole_session_maps_back_with_the_api_key() -> None:
    workflow = Counting(patching("plan", {"plan": "pro"}))
    hooks = endpoint([("plan", workflow, "stop")])
    status, body = call(hooks, "hydra", HYDRA_CALL, {"X-API-Key": SECRETS["hydra"]})
    # Hydra replaces the session's maps wholesale: what consent set comes back beside the new claims.
    assert (status, body) == (
        200,
        {"session": {"access_token": {"consented": True, "plan": "pro"}, "id_token": {"tenant": "t1"}}},
    )
    event = workflow.payloads[0]["event"]
    assert (event["context"]["user"]["id"], event["context"]["application"]["clientId"]) == ("kp_1", "app-client")
    assert event["request"]["auth"]["audience"] == ["https://api.example.com"]


def test_hydra_with_a_wrong_key_is_401_a_denial_403_and_client_credentials_the_m2m_trigger() -> None:
    hooks = endpoint([("plan", patching("plan", {"plan": "pro"}), "stop")])
    assert call(hooks, "hydra", HYDRA_CALL, {"X-API-Key": "guess"})[0] == 401
    gate = endpoint([("gate", denying("gate", "suspended"), "stop")])
    assert call(gate, "hydra", HYDRA_CALL, {"X-API-Key": SECRETS["hydra"]}) == (
        403,
        {"error": "access_denied", "error_description": "suspended"},
    )
    m2m = {
        "session": {"client_id": "svc"},
        "request": {"client_id": "svc", "granted_scopes": [], "grant_types": ["client_credentials"]},
    }
    hydra = HydraTokenHook(domain="https://op.example")
    assert hydra.token_request(m2m).trigger.value == "m2m:token_generation"


def test_a_workflow_setting_a_claim_hydra_keeps_fails_the_call(capsys: pytest.CaptureFixture[str]) -> None:
    hooks = endpoint([("sneaky", patching("sneaky", {"ext": {"admin": True}}), "stop")])
    status, body = call(hooks, "hydra", HYDRA_CALL, {"X-API-Key": SECRETS["hydra"]})
    assert (status, body["error"]) == (500, "server_error") and "sneaky" in body["error_description"]
    assert "'ext' is a reserved claim of the access_token (Ory Hydra sets it)" in capsys.readouterr().out


ZITADEL_CALL = {
    "function": "function/preaccesstoken",
    "userinfo": {"sub": "312909075212468632"},
    "user": {"id": "312909075212468632", "human": {"email": "user@example.com"}},
    "org": {"id": "312909075211944344", "name": "ZITADEL"},
}


def test_zitadel_gets_append_claims_and_a_denial_it_forwards() -> None:
    workflow = Counting(patching("plan", {"plan": "pro"}))
    hooks = endpoint([("plan", workflow, "stop")])
    status, body = call(hooks, "zitadel", *signed("zitadel", ZITADEL_CALL, header="ZITADEL-Signature"))
    assert (status, body) == (200, {"append_claims": [{"key": "plan", "value": "pro"}]})
    assert workflow.payloads[0]["event"]["context"]["organization"] == {"code": "312909075211944344"}
    gate = endpoint([("gate", denying("gate", "outside office hours"), "stop")])
    assert call(gate, "zitadel", *signed("zitadel", ZITADEL_CALL, header="ZITADEL-Signature")) == (
        200,
        {"forwardedStatusCode": 403, "forwardedErrorMessage": "outside office hours"},
    )


def test_a_zitadel_namespace_claim_is_refused_to_workflows(capsys: pytest.CaptureFixture[str]) -> None:
    hooks = endpoint([("sneaky", patching("sneaky", {"urn:zitadel:iam:org:id": "x"}), "stop")])
    status, _ = call(hooks, "zitadel", *signed("zitadel", ZITADEL_CALL, header="ZITADEL-Signature"))
    assert status == 500 and "the urn:zitadel:iam namespace is reserved" in capsys.readouterr().out


def test_only_enabled_hooks_answer_and_only_to_post() -> None:
    hooks = endpoint([("plan", patching("plan", {"plan": "pro"}), "stop")], enabled=("generic",))
    assert call(hooks, "hydra", HYDRA_CALL, {"X-API-Key": SECRETS["hydra"]}) == (404, {"error": "not_found"})
    assert call(hooks, "generic", {}, {}, method="GET")[0] == 405
