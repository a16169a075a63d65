"""Every rule the issuer keeps: standard claims, concurrency, merge order and conflicts,
failure policy, denial, deadlines and budget, re-checks, size, and the OAuth error shape."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import jwt
import pytest

from claimflow.issuer import (
    AccessDeniedError,
    IssuerConfig,
    TokenRequestError,
    TokenTooLargeError,
    WorkflowFailedError,
    mint_standard_claims,
    parse_token_request,
)
from claimflow.issuer.app import handle
from claimflow.tokens import TokenKind
from tests.support import sample
from tests.unit.issuing import failing, issuer_with, keyed_store, patching, reply, user_request

NOW = 1_800_000_000


def decode(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def test_access_token_carries_rfc9068_claims_and_typ() -> None:
    issued = issuer_with([]).issue(user_request())
    access = issued.tokens[TokenKind.ACCESS]
    assert jwt.get_unverified_header(access)["typ"] == "at+jwt"
    claims = decode(access)
    assert claims["iss"] == "https://issuer.test"
    assert claims["sub"] == "kp_6a0713b9e5d14c3e9a2f0c4d8b7e1f21"
    assert claims["aud"] == "https://api.example.com/v1"
    assert (claims["iat"], claims["exp"]) == (NOW, NOW + 3600)
    assert claims["client_id"] == "f77dbc2e9a104b6e8c3d5a7b9e1f2c4d"
    assert claims["scope"] == "openid profile email"
    assert len(claims["jti"]) >= 16


def test_id_token_follows_oidc_core_and_only_with_openid_scope() -> None:
    issued = issuer_with([]).issue(user_request())
    id_claims = decode(issued.tokens[TokenKind.ID])
    assert id_claims["aud"] == id_claims["azp"] == "f77dbc2e9a104b6e8c3d5a7b9e1f2c4d"
    assert (id_claims["nonce"], id_claims["auth_time"]) == ("n-0S6_WzA2Mj", 1795670000)
    assert TokenKind.ID not in issuer_with([]).issue(user_request(scope=["profile"])).tokens


def test_m2m_token_is_a_client_credentials_access_token() -> None:
    config = IssuerConfig(issuer_url="https://issuer.test", lifetimes={TokenKind.M2M: 600})
    request = parse_token_request(sample("issuer.m2m-token.json"), config)
    claims = mint_standard_claims(request, config, clock=lambda: NOW, new_jti=lambda: "j1")[TokenKind.M2M]
    assert claims == {
        "iss": "https://issuer.test",
        "sub": "m2m_3c9e2a7f41d8",
        "aud": "https://api.example.com/v1",
        "iat": NOW,
        "exp": NOW + 600,
        "jti": "j1",
        "client_id": "m2m_3c9e2a7f41d8",
        "scope": "read:reports",
        "gty": "client_credentials",
    }


def test_workflows_run_concurrently_so_latency_is_the_slowest_not_the_sum() -> None:
    both_running = threading.Barrier(2, timeout=4.0)  # passed only while both run at once, however busy the machine

    def meeting(workflow_id: str, claims: dict[str, Any]) -> Any:
        def handler(payload: dict[str, Any], context: Any) -> Any:
            both_running.wait()  # one at a time, the first would wait alone and fail
            return reply(workflow_id, access=claims)

        return handler

    workflows = [("a", meeting("a", {"x": 1}), "stop"), ("b", meeting("b", {"y": 2}), "stop")]
    issuer = issuer_with(workflows, timeout_ms=5000, issuance_budget_ms=6000)
    claims = decode(issuer.issue(user_request()).tokens[TokenKind.ACCESS])
    assert (claims["x"], claims["y"]) == (1, 2)


def test_patches_merge_in_configured_order_and_a_conflict_is_reported() -> None:
    issuer = issuer_with(
        [
            ("first", patching("first", {"plan": "free", "a": 1}, sleep=0.05), "stop"),
            ("second", patching("second", {"plan": "pro"}), "stop"),
        ]
    )
    issued = issuer.issue(user_request())
    claims = decode(issued.tokens[TokenKind.ACCESS])
    assert (claims["plan"], claims["a"]) == ("pro", 1)
    assert [(c.claim, c.earlier, c.later) for c in issued.conflicts] == [("plan", "first", "second")]


def test_reset_claims_drops_the_custom_claims_before_it() -> None:
    issuer = issuer_with([("a", patching("a", {"a": 1}), "stop"), ("b", patching("b", {"b": 2}, reset=True), "stop")])
    claims = decode(issuer.issue(user_request(claims={"access_token": {"legacy": True}})).tokens[TokenKind.ACCESS])
    assert "legacy" not in claims and "a" not in claims and claims["b"] == 2


def test_a_stop_failure_means_no_token_and_names_the_workflow() -> None:
    issuer = issuer_with([("ok", patching("ok", {"x": 1}), "stop"), ("broken", failing("broken"), "stop")])
    with pytest.raises(WorkflowFailedError, match="workflow 'broken' failed \\(failure policy stop\\): FetchError"):
        issuer.issue(user_request())


def test_a_continue_failure_issues_the_token_without_that_patch() -> None:
    def broken_but_patching(payload: Any, context: Any) -> Any:
        failed = reply("broken", "failed", error={"type": "KeyError", "code": "server_error", "message": "'x'"})
        failed["patches"] = {"access_token": {"set": {"leaked": True}, "reset": False}}
        return failed

    issuer = issuer_with([("ok", patching("ok", {"x": 1}), "stop"), ("broken", broken_but_patching, "continue")])
    issued = issuer.issue(user_request())
    claims = decode(issued.tokens[TokenKind.ACCESS])
    assert claims["x"] == 1 and "leaked" not in claims
    assert issued.skipped_failures == 1
    assert [(r["id"], r["outcome"]) for r in issued.report] == [("ok", "ok"), ("broken", "failed")]


def test_a_denial_wins_over_everything_and_carries_the_reason() -> None:
    issuer = issuer_with(
        [
            ("broken", failing("broken"), "stop"),
            ("guard", lambda p, c: reply("guard", "denied", reason="trial expired"), "continue"),
        ]
    )
    with pytest.raises(AccessDeniedError, match="trial expired"):
        issuer.issue(user_request())


@pytest.mark.parametrize("policy", ["stop", "continue"])
def test_a_workflow_past_its_deadline_is_a_failure_and_nothing_waits_for_it(policy: str) -> None:
    issuer = issuer_with([("slow", patching("slow", {"late": True}, sleep=3.0), policy)], timeout_ms=150)
    started = time.perf_counter()
    if policy == "stop":
        with pytest.raises(WorkflowFailedError, match="did not answer within .* ms \\(workflow deadline\\)"):
            issuer.issue(user_request())
    else:
        assert "late" not in decode(issuer.issue(user_request()).tokens[TokenKind.ACCESS])
    assert time.perf_counter() - started < 1.5  # its 150 ms deadline, not the workflow's 3 s


def test_the_issuance_budget_bounds_every_workflow() -> None:
    issuer = issuer_with([("slow", patching("slow", {"late": True}, sleep=3.0), "stop")], timeout_ms=5000, issuance_budget_ms=200)
    started = time.perf_counter()
    with pytest.raises(WorkflowFailedError, match="issuance budget"):
        issuer.issue(user_request())
    assert time.perf_counter() - started < 1.5  # the 200 ms budget, not the workflow's 3 s


@pytest.mark.parametrize(
    ("claims", "cause"),
    [
        ({"sub": "someone-else"}, "'sub' is a reserved claim of the access_token"),
        ({"scope": "admin"}, "'scope' is a reserved claim"),
        ({"org_code": "org_other"}, "'org_code' is a reserved claim of the access_token (the issuer sets it)"),
    ],
)
def test_a_misbehaving_reply_cannot_set_reserved_or_minted_claims(claims: dict[str, Any], cause: str) -> None:
    issuer = issuer_with([("rogue", lambda p, c: reply("rogue", access=claims), "stop")])
    with pytest.raises(WorkflowFailedError) as failure:
        issuer.issue(user_request())
    assert cause in str(failure.value)


@pytest.mark.parametrize(
    "bad_reply",
    [
        None,
        "not an object",
        {"outcome": "ok"},
        {**reply("other"), "workflow_id": "other"},
        {**reply("mal"), "patches": {"access_token": {"set": {"x": 1}}}},
    ],
)
def test_a_malformed_reply_is_a_failure_under_the_policy(bad_reply: Any) -> None:
    issuer = issuer_with([("mal", lambda p, c: bad_reply, "stop")])
    with pytest.raises(WorkflowFailedError, match="workflow 'mal'"):
        issuer.issue(user_request())


def test_a_crashing_workflow_is_a_failure_naming_it() -> None:
    def crash(payload: Any, context: Any) -> Any:
        raise MemoryError("out of memory")

    with pytest.raises(WorkflowFailedError, match="workflow 'crash' failed .*MemoryError"):
        issuer_with([("crash", crash, "stop")]).issue(user_request())


def test_an_oversize_token_is_refused_with_a_clear_error() -> None:
    big = {f"claim{i}": "x" * 1000 for i in range(12)}
    with pytest.raises(TokenTooLargeError, match="the access_token would be .* bytes; the limit is 8192"):
        issuer_with([("big", patching("big", big), "stop")]).issue(user_request())


MUTATIONS: list[tuple[str, Any, str]] = [
    ("contract", "claimflow.token-request/v2", "contract"),
    ("trigger", "user:pre_mfa", "trigger"),
    ("client_id", "", "client_id"),
    ("subject", None, "subject"),
    ("audience", [], "audience"),
    ("audience", "https://api.example.com/v1", "audience"),
    ("scope", ["has space"], "scope"),
    ("scope", ["x"] * 65, "scope"),
    ("nonce", 7, "nonce"),
    ("auth_time", "yesterday", "auth_time"),
    (
        "event",
        {"context": {"application": {"clientId": "another"}}},
        "event.context.application is derived from the request's client_id",
    ),
    ("event", {"context": {"user": {"id": "kp_someone_else"}}}, "event.context.user.id is derived from the request's subject"),
    ("event", {"request": {"auth": {"audience": ["https://elsewhere"]}}}, "event.request.auth is derived"),
    ("event", {"context": {"organization": {"code": "org_x"}}}, "event.context.organization is derived"),
    ("event", {"request": {"cookie": "x"}}, "must not contain"),
    ("claims", {"access_token": {"sub": "x"}}, "'sub' is a reserved claim"),
    ("claims", {"m2m_token": {"a": 1}}, "m2m_token do not apply"),
    ("unexpected", 1, "must not contain"),
]


@pytest.mark.parametrize(("field", "value", "expected"), MUTATIONS, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(MUTATIONS)])
def test_each_malformed_field_is_invalid_request_and_no_token(field: str, value: Any, expected: str) -> None:
    invoked: list[Any] = []
    issuer = issuer_with([("spy", lambda p, c: invoked.append(p) or reply("spy"), "stop")])
    request = user_request()
    if value is None:
        request.pop(field)
    else:
        request[field] = value
    with pytest.raises(TokenRequestError, match=expected):
        issuer.issue(request)
    answer = handle(issuer, request)
    assert answer["error"] == "invalid_request" and "access_token" not in answer
    assert invoked == []


def test_an_empty_request_names_the_required_fields() -> None:
    with pytest.raises(TokenRequestError, match=r"request must contain \['audience', 'client_id', 'contract', 'trigger'\]"):
        issuer_with([]).issue({})


def test_workflows_see_an_event_derived_from_the_requests_own_fields() -> None:
    seen: list[Any] = []
    issuer = issuer_with([("spy", lambda p, c: seen.append(p["event"]) or reply("spy"), "stop")])
    request = user_request()
    issuer.issue(request)
    [event] = seen
    assert event["context"]["user"] == {"id": request["subject"], "identityId": "identity_0192c4f1d2e3"}
    assert event["context"]["application"] == {"clientId": request["client_id"]}
    assert event["context"]["organization"] == {"code": request["organization"]}
    assert event["context"]["workflow"] == {"trigger": "user:tokens_generation"}
    assert event["context"]["domains"] == {"kindeDomain": "https://issuer.test"}
    assert event["context"]["auth"] == request["event"]["context"]["auth"]
    assert event["request"] == {
        "ip": "203.0.113.10",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
        "auth": {"audience": request["audience"], "scope": request["scope"]},
    }


def test_an_audience_outside_the_configured_list_is_refused() -> None:
    with pytest.raises(TokenRequestError, match="not one this issuer serves"):
        issuer_with([], allowed_audiences=frozenset({"https://other"})).issue(user_request())


@pytest.mark.parametrize(
    ("workflow", "error"),
    [
        (lambda p, c: reply("w", "denied", reason="blocked"), "access_denied"),
        (failing("w"), "server_error"),
    ],
)
def test_handle_answers_oauth_errors_with_the_report_and_never_a_token(workflow: Any, error: str) -> None:
    answer = handle(issuer_with([("w", workflow, "stop")]), user_request())
    assert answer["error"] == error
    assert "access_token" not in answer and "id_token" not in answer
    assert answer["workflows"][0]["id"] == "w"
    json.dumps(answer)


def test_without_a_signing_key_no_workflow_runs_and_the_error_says_how_to_fix_it() -> None:
    from claimflow.infra.parameters import InMemoryParameterStore

    invoked: list[Any] = []
    issuer = issuer_with([("spy", lambda p, c: invoked.append(p) or reply("spy"), "stop")], store=InMemoryParameterStore())
    answer = handle(issuer, user_request())
    assert answer["error"] == "server_error"
    assert "keys init" in answer["error_description"]
    assert invoked == []


def test_a_malformed_key_set_is_a_server_error_that_never_shows_key_material() -> None:
    store = keyed_store()
    store.put(
        "/claimflow/test/signing/keyset", '{"version": 1, "keys": [{"kid": "k", "jwk": {"d": "PRIVATE-PART"}}]}', secret=True
    )
    answer = handle(issuer_with([], store=store), user_request())
    assert answer["error"] == "server_error"
    assert "malformed" in answer["error_description"] and "PRIVATE-PART" not in answer["error_description"]


# --- claims per spec ----------------------------------------------------------------------------


def test_auth_time_appears_only_when_the_identity_stack_gives_it() -> None:
    request = user_request()
    del request["auth_time"]
    issued = issuer_with([]).issue(request)
    assert "auth_time" not in decode(issued.tokens[TokenKind.ID])  # an invented one would defeat max_age
    assert "auth_time" not in decode(issued.tokens[TokenKind.ACCESS])
    assert decode(issuer_with([]).issue(user_request()).tokens[TokenKind.ID])["auth_time"] == 1795670000


def test_no_scope_claim_when_no_scope_was_granted() -> None:
    m2m = sample("issuer.m2m-token.json")
    m2m["scope"] = []
    claims = decode(issuer_with([]).issue(m2m).tokens[TokenKind.M2M])
    assert "scope" not in claims


def test_error_description_keeps_to_rfc_6749_characters_and_the_report_keeps_the_reason() -> None:
    reason = 'Konto gesperrt: "Zahlung" fehlt \\ bitte zahlen – jetzt'
    answer = handle(issuer_with([("guard", lambda p, c: reply("guard", "denied", reason=reason), "stop")]), user_request())
    description = answer["error_description"]
    assert all(0x20 <= ord(c) <= 0x7E and c not in '"\\' for c in description), description
    assert description.startswith("Konto gesperrt: ?Zahlung? fehlt ? bitte zahlen ? jetzt")
    assert answer["workflows"][0]["reason"] == reason
