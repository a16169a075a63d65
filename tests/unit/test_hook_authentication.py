"""How the claims-hook endpoint authenticates a call, against hostile callers and failing stores:
a signed call is good once for as long as its timestamp is acceptable, in every container; a
timestamp far ahead is refused; any malformed header is a 401 JSON, never a crash; nothing is
disclosed before authentication; a store that cannot answer refuses the call (503); a body
nested past the bound is a 400."""

from __future__ import annotations

import base64
import copy
import functools
import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimflow.environment import SsmPaths
from claimflow.infra.parameters import InMemoryParameterStore
from claimflow.infra.secrets import SecretRegistry
from claimflow.issuer.errors import HookAuthenticationError
from claimflow.issuer.hooks.authentication import (
    MAX_HEADER_CHARS,
    ApiKey,
    Signature,
    parse_signature_header,
    sign_body,
)
from claimflow.issuer.hooks.dynamodb_replays import DynamoDbReplayStore
from claimflow.issuer.hooks.endpoint import HookEndpoint
from claimflow.issuer.hooks.generic import GenericClaimsHook
from claimflow.issuer.hooks.hydra import HydraTokenHook
from claimflow.issuer.hooks.replay import InMemoryReplayStore
from claimflow.issuer.hooks.zitadel import ZitadelAction
from tests.unit.issuing import issuer_with, patching, user_request

PATHS = SsmPaths(stage="test")
SECRETS = {"generic": "generic-secret-0001", "hydra": "hydra-api-key-0002", "zitadel": "zitadel-key-0003"}
HEADER = "X-Claimflow-Signature"
HYPOTHESIS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZITADEL_CALL = {
    "function": "function/preaccesstoken",
    "userinfo": {"sub": "312909075212468632"},
    "user": {"id": "312909075212468632"},
    "org": {"id": "312909075211944344"},
}
HYDRA_CALL = {
    "session": {"id_token": {"subject": "kp_1"}, "client_id": "app-client"},
    "request": {"client_id": "app-client", "granted_scopes": ["openid"], "grant_types": ["authorization_code"]},
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


class Counting:
    def __init__(self) -> None:
        self.runs = 0
        self.handler = patching("plan", {"plan": "pro"})

    def __call__(self, payload: dict[str, Any], context: Any) -> Any:
        self.runs += 1
        return self.handler(payload, context)


def endpoint(
    *,
    clock: Clock | None = None,
    replays: InMemoryReplayStore | None = None,
    store: InMemoryParameterStore | None = None,
    workflow: Counting | None = None,
) -> HookEndpoint:
    """One container's endpoint; containers of one stage share ``replays``."""
    issuer = issuer_with([("plan", workflow or Counting(), "stop")])
    generic = GenericClaimsHook(config=issuer.config)
    zitadel = ZitadelAction(domain="https://zitadel.example")
    if clock is not None:
        generic.authentication = Signature(HEADER, clock=clock)
        zitadel.authentication = Signature("ZITADEL-Signature", refuse_replays=False, clock=clock)
    hooks = {"generic": generic, "zitadel": zitadel, "hydra": HydraTokenHook(domain="https://op.example")}
    secrets = store or InMemoryParameterStore({PATHS.hook_secret(r): (s, True) for r, s in SECRETS.items()})
    return HookEndpoint(
        hooks,
        issuer.workflows,
        secrets,
        replays=replays if replays is not None else InMemoryReplayStore(clock=clock or time.time),
        enabled=tuple(hooks),
        budget_ms=3000,
        paths=PATHS,
        secrets=SecretRegistry(),
    )


def post(
    hooks: HookEndpoint,
    route: str,
    raw: bytes,
    headers: Any,
    *,
    method: str = "POST",
    path: str | None = None,
    encoded: bool = True,
) -> tuple[int, Any]:
    event = {
        "rawPath": path if path is not None else f"/hooks/{route}",
        "requestContext": {"http": {"method": method}},
        "headers": headers,
        "body": base64.b64encode(raw).decode() if encoded else raw.decode("utf-8", errors="surrogatepass"),
        "isBase64Encoded": encoded,
    }
    answer = hooks.handle(event)
    assert answer["headers"]["Content-Type"] == "application/json"
    return answer["statusCode"], json.loads(answer["body"]) if answer["body"] else None


def generic_call(correlation: str = "c-1") -> bytes:
    return json.dumps(user_request(correlation_id=correlation)).encode()


def signed(raw: bytes, *, at: float, route: str = "generic") -> dict[str, str]:
    header = "ZITADEL-Signature" if route == "zitadel" else HEADER
    return {header: sign_body(SECRETS[route], raw, now=int(at))}


# --- a signature is good once, for as long as its timestamp is acceptable -----------------------


def test_a_call_signed_ahead_of_the_clock_is_still_refused_after_the_arrival_time_window() -> None:
    clock = Clock()
    hooks = endpoint(clock=clock)
    raw = generic_call()
    headers = signed(raw, at=clock.now + 30)  # as far ahead as the skew allows
    assert post(hooks, "generic", raw, headers)[0] == 200
    clock.now += 301  # past 300 s since it arrived; its signed time is 271 s ago: still acceptable
    assert post(hooks, "generic", raw, headers) == (401, {"error": "invalid_client"})
    clock.now += 30  # its signed time is now past the tolerance: stale, refused as such
    assert post(hooks, "generic", raw, headers) == (401, {"error": "invalid_client"})


@pytest.mark.parametrize(("ahead", "status"), [(30, 200), (31, 401), (299, 401), (10**6, 401)])
def test_a_timestamp_more_than_30_s_ahead_of_the_clock_is_refused(ahead: int, status: int) -> None:
    clock = Clock()
    hooks = endpoint(clock=clock)
    raw = generic_call()
    assert post(hooks, "generic", raw, signed(raw, at=clock.now + ahead))[0] == status


def test_the_replay_store_forgets_a_call_only_once_its_signed_time_is_stale() -> None:
    clock = Clock()
    store = InMemoryReplayStore(clock=clock)
    until = clock.now + 330
    assert store.first_use("k", until=until)
    clock.now = until
    assert not store.first_use("k", until=until)
    clock.now = until + 1
    assert store.first_use("k", until=clock.now + 300)


def test_a_second_container_or_a_cold_start_refuses_a_call_the_first_accepted() -> None:
    shared = InMemoryReplayStore()  # the stage's table: every container reads and writes it
    workflow = Counting()
    first, second = endpoint(replays=shared, workflow=workflow), endpoint(replays=shared, workflow=workflow)
    raw = generic_call()
    headers = signed(raw, at=time.time())
    assert post(first, "generic", raw, headers)[0] == 200
    assert post(second, "generic", raw, headers) == (401, {"error": "invalid_client"})
    assert workflow.runs == 1


def test_a_replay_store_that_cannot_answer_refuses_the_call_as_temporarily_unavailable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    workflow = Counting()
    hooks = endpoint(replays=InMemoryReplayStore(unreachable=True), workflow=workflow)
    raw = generic_call()
    status, body = post(hooks, "generic", raw, signed(raw, at=time.time()))
    assert (status, body["error"]) == (503, "temporarily_unavailable")
    assert "replay store unreachable" not in json.dumps(body)  # the cause is the operator's, in the log
    assert "replay store unreachable" in capsys.readouterr().out
    assert workflow.runs == 0  # fail closed: a store that cannot tell never lets a call through


def test_a_call_that_fails_authentication_never_reaches_the_replay_store() -> None:
    shared = InMemoryReplayStore()
    hooks = endpoint(replays=shared)
    raw = generic_call()
    wrong = {HEADER: sign_body("not-the-secret", raw, now=int(time.time()))}
    for headers in [{}, wrong, {HEADER: "t=²,v1=" + "0" * 64}, signed(raw, at=time.time() - 1000)]:
        assert post(hooks, "generic", raw, headers)[0] == 401
    assert shared.used == {}  # no write for anyone without the secret


def test_an_issuer_not_told_its_replay_table_refuses_signed_calls_naming_the_setting_in_the_log(
    capsys: pytest.CaptureFixture[str],
) -> None:
    hooks = endpoint()
    hooks.replays = DynamoDbReplayStore(table="")  # fails before any request: no socket opened
    raw = generic_call()
    status, body = post(hooks, "generic", raw, signed(raw, at=time.time()))
    assert (status, body["error"]) == (500, "server_error")
    assert "set CLAIMFLOW_HOOK_REPLAY_TABLE" in capsys.readouterr().out


def test_zitadel_may_resend_a_signed_call_and_never_waits_on_the_replay_store() -> None:
    """Zitadel retries with the same signature and sends identical calls within a second; its SDK
    checks only the timestamp (docs/identity-stacks/authentication.md says why replays are allowed there)."""
    hooks = endpoint(replays=InMemoryReplayStore(unreachable=True))
    raw = json.dumps(ZITADEL_CALL).encode()
    headers = signed(raw, at=time.time(), route="zitadel")
    assert post(hooks, "zitadel", raw, headers)[0] == 200
    assert post(hooks, "zitadel", raw, headers)[0] == 200


# --- every malformed header is a 401 JSON, never a crash ----------------------------------------

MALFORMED = {
    "superscript digit": "t=²,v1=" + "0" * 64,
    "Arabic-Indic digits": "t=١٧٠٠٠٠٠٠٠٠,v1=" + "0" * 64,
    "hundreds of digits": "t=" + "9" * 400 + ",v1=" + "0" * 64,
    "thousands of digits": "t=" + "1" * 5000 + ",v1=" + "0" * 64,
    "negative": "t=-1,v1=" + "0" * 64,
    "exponent": "t=1e9,v1=" + "0" * 64,
    "two timestamps": "t=1,t=2,v1=" + "0" * 64,
    "no signature": "t=1700000000",
    "non-ASCII signature": "t=1700000000,v1=" + "é" * 64,
    "short signature": "t=1700000000,v1=abc",
    "a part without =": "t=1700000000,v1",
    "many signatures": "t=1700000000," + ",".join(["v1=" + "0" * 64] * 1000),
    "a megabyte": "t=1700000000,v1=" + "0" * 1_000_000,
    "empty": "",
    "control characters": "t=1700000000\r\nX-Injected: 1,v1=" + "0" * 64,
}


@pytest.mark.parametrize("value", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_signature_header_is_a_bare_401_json(value: str) -> None:
    workflow = Counting()
    hooks = endpoint(workflow=workflow)
    assert post(hooks, "generic", generic_call(), {HEADER: value}) == (401, {"error": "invalid_client"})
    assert workflow.runs == 0


@pytest.mark.parametrize(
    "headers",
    [
        None,
        ["X-Claimflow-Signature", "t=1"],
        {HEADER: 1700000000},
        {HEADER: None},
        {"x-claimflow-signature": "t=1,v1=" + "0" * 64, "X-CLAIMFLOW-SIGNATURE": "t=2,v1=" + "0" * 64},
    ],
    ids=["none", "a list", "a number", "null", "twice in two cases"],
)
def test_headers_of_the_wrong_shape_are_a_bare_401_json(headers: Any) -> None:
    assert post(endpoint(), "generic", generic_call(), headers) == (401, {"error": "invalid_client"})


def test_the_same_header_twice_under_two_cases_is_refused_even_when_one_is_valid() -> None:
    raw = generic_call()
    good = sign_body(SECRETS["generic"], raw, now=int(time.time()))
    headers = {HEADER: good, HEADER.lower(): "t=1,v1=" + "0" * 64}
    assert post(endpoint(), "generic", raw, headers) == (401, {"error": "invalid_client"})


@HYPOTHESIS
@given(
    st.text(max_size=300)
    | st.builds(lambda t, v: f"t={t},v1={v}", st.text(max_size=40), st.text(max_size=80))
    | st.builds(lambda t, v: f"t={t},v1={v}", st.integers(min_value=-(10**40), max_value=10**40), st.text("0123456789abcdef"))
)
def test_any_unsigned_header_value_is_a_bare_401_json_and_runs_nothing(value: str) -> None:
    hooks, workflow = _one_container()
    status, body = post(hooks, "generic", generic_call(), {HEADER: value})
    assert (status, body) == (401, {"error": "invalid_client"})
    assert workflow.runs == 0


@functools.cache
def _one_container() -> tuple[HookEndpoint, Counting]:
    """Built once for the generated cases (a key set per endpoint is slow); it refuses them all."""
    workflow = Counting()
    return endpoint(workflow=workflow), workflow


@HYPOTHESIS
@given(st.text(max_size=MAX_HEADER_CHARS + 50))
def test_the_parser_answers_a_timestamp_and_signatures_or_refuses_never_anything_else(value: str) -> None:
    try:
        stamp, signatures = parse_signature_header(value, header=HEADER)
    except HookAuthenticationError:
        return
    assert 0 <= stamp < 10**12
    assert 1 <= len(signatures) <= 8 and all(len(s) == 64 and set(s) <= set("0123456789abcdef") for s in signatures)


@HYPOTHESIS
@given(
    st.integers(min_value=0, max_value=10**12 - 1),
    st.lists(st.binary(min_size=32, max_size=32).map(bytes.hex), min_size=1, max_size=8),
    st.lists(st.sampled_from(["v0=x", "x=1", "scheme=hmac", "v2=" + "0" * 64]), max_size=3),
    st.sampled_from(["", " ", "  "]),
)
def test_what_zitadel_and_callers_send_parses_back_exactly(
    stamp: int, signatures: list[str], unknown: list[str], pad: str
) -> None:
    parts = [f"t={stamp}", *(f"v1={s}" for s in signatures), *unknown]
    value = ",".join(f"{pad}{part}{pad}" for part in parts)
    assert parse_signature_header(value, header=HEADER) == (stamp, tuple(signatures))


def test_the_signature_a_caller_makes_parses_and_verifies() -> None:
    raw = b'{"a":1}'
    header = sign_body("s3cret", raw, now=1_700_000_000)
    stamp, (signature,) = parse_signature_header(header, header=HEADER)
    assert stamp == 1_700_000_000
    single_use = Signature(HEADER, clock=lambda: 1_700_000_010.0).verify("s3cret", {HEADER: header}, raw)
    assert single_use is not None and (single_use.key, single_use.until) == (signature, 1_700_000_300)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [("Bearer k3y", True), ("bearer k3y", True), ("BEARER   k3y", True), ("Basic k3y", False), ("k3y", False), ("Bearer", False)],
)
def test_a_bearer_api_key_takes_the_scheme_in_any_case_and_nothing_else(value: str, accepted: bool) -> None:
    verify = ApiKey("Authorization").verify
    if accepted:
        assert verify("k3y", {"authorization": value}, b"") is None
    else:
        with pytest.raises(HookAuthenticationError):
            verify("k3y", {"authorization": value}, b"")


# --- before authentication nothing is disclosed; the detail goes to the log ---------------------


def test_an_unknown_route_is_a_bare_404_naming_no_hook() -> None:
    for path in [
        "/hooks/nosuch",
        "/hooks/",
        "/",
        "/HOOKS/generic",
        "/hooks//generic",
        "/x/hooks/generic",
        "/hooks/generic/../hydra",
    ]:
        assert post(endpoint(), "generic", b"{}", {}, path=path) == (404, {"error": "not_found"}), path


def test_a_missing_secret_is_a_bare_401_and_the_log_names_where_to_set_it(capsys: pytest.CaptureFixture[str]) -> None:
    hooks = endpoint(store=InMemoryParameterStore())
    raw = generic_call()
    assert post(hooks, "generic", raw, signed(raw, at=time.time())) == (401, {"error": "invalid_client"})
    assert "/claimflow/test/hooks/generic/secret" in capsys.readouterr().out


def test_a_stale_timestamp_is_a_bare_401_and_only_the_log_gives_the_offset(capsys: pytest.CaptureFixture[str]) -> None:
    raw = generic_call()
    assert post(endpoint(), "generic", raw, signed(raw, at=time.time() - 1000)) == (401, {"error": "invalid_client"})
    assert "s old; the limit is 300 s" in capsys.readouterr().out


def test_a_method_other_than_post_is_405_before_anything_is_read() -> None:
    hooks = endpoint()
    for method in ["GET", "HEAD", "OPTIONS", "PUT", "post "]:
        assert post(hooks, "generic", b"", {}, method=method) == (405, {"error": "method_not_allowed"}), method
    event = {"rawPath": "/hooks/generic", "requestContext": {"http": {"method": "GET"}}}
    assert hooks.handle(event)["headers"]["Allow"] == "POST"


# --- stores that cannot be read ------------------------------------------------------------------


def test_ssm_unreachable_while_reading_a_hook_secret_is_503_json(capsys: pytest.CaptureFixture[str]) -> None:
    store = InMemoryParameterStore()
    store.unreachable = True
    workflow = Counting()
    hooks = endpoint(store=store, workflow=workflow)
    for route, raw in [("generic", generic_call()), ("hydra", json.dumps(HYDRA_CALL).encode())]:
        headers = {"X-API-Key": SECRETS["hydra"]} if route == "hydra" else signed(raw, at=time.time())
        status, body = post(hooks, route, raw, headers)
        assert (status, body["error"]) == (503, "temporarily_unavailable"), route
        assert "/claimflow/" not in json.dumps(body)
    assert "parameter store unreachable" in capsys.readouterr().out
    assert workflow.runs == 0


# --- bodies --------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [100_000, 64])
def test_an_authenticated_body_nested_past_the_bound_is_400_invalid_request(depth: int) -> None:
    raw = b"[" * depth + b"]" * depth
    status, body = post(endpoint(), "generic", raw, signed(raw, at=time.time()))
    assert (status, body["error"]) == (400, "invalid_request")


@pytest.mark.parametrize(
    "raw", [b"\xff\xfe not UTF-8", b'{"claims": NaN}', b'{"exp": 1e999}', b'"\\ud800"'], ids=["bytes", "NaN", "huge", "surrogate"]
)
def test_an_authenticated_body_that_is_not_strict_json_is_400(raw: bytes) -> None:
    status, body = post(endpoint(), "generic", raw, signed(raw, at=time.time()))
    assert (status, body["error"]) == (400, "invalid_request")


def test_a_body_lambda_could_not_have_encoded_is_400_and_an_oversized_one_413() -> None:
    event = {"rawPath": "/hooks/generic", "requestContext": {"http": {"method": "POST"}}, "headers": {}}
    answer = endpoint().handle({**event, "body": "not base64!", "isBase64Encoded": True})
    assert answer["statusCode"] == 400
    answer = endpoint().handle({**event, "body": "x" * (600 * 1024), "isBase64Encoded": False})
    assert answer["statusCode"] == 413


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
#: Each HTTP hook's document as its stack sends it, every field present.
_SHAPES: dict[str, Any] = {
    "hydra": {
        "session": {
            "id_token": {"id_token_claims": {"sub": "kp_1", "ext": {"tenant": "t1"}}, "subject": "kp_1"},
            "extra": {"consented": True},
            "client_id": "app-client",
        },
        "request": {
            "client_id": "app-client",
            "granted_scopes": ["openid"],
            "granted_audience": ["https://api.example.com"],
            "grant_types": ["authorization_code"],
        },
    },
    "zitadel": {**ZITADEL_CALL, "user": {"id": "312909075212468632", "human": {"email": "user@example.com"}}},
}


def _paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    below = [p for key, child in node.items() for p in _paths(child, (*prefix, key))] if isinstance(node, dict) else []
    return [prefix, *below]


@HYPOTHESIS
@given(st.data())
def test_any_json_an_authenticated_stack_sends_is_answered_never_crashed(data: st.DataObject) -> None:
    route = data.draw(st.sampled_from(["hydra", "zitadel", "generic"]))
    shape = copy.deepcopy(_SHAPES.get(route) or user_request(correlation_id=f"c-{time.time_ns()}"))
    path = data.draw(st.sampled_from(_paths(shape)))  # one field, any depth (the whole document too), replaced
    value = data.draw(_values)
    if path:
        parent = functools.reduce(lambda node, key: node[key], path[:-1], shape)
        parent[path[-1]] = value
    else:
        shape = value
    raw = json.dumps(shape).encode()
    headers = {"X-API-Key": SECRETS["hydra"]} if route == "hydra" else signed(raw, at=time.time(), route=route)
    hooks, _ = _one_container()
    status, _ = post(hooks, route, raw, headers)
    assert status in {200, 400, 401, 403, 500}  # 401: the generic hook refusing a document drawn twice


def test_a_text_body_with_a_lone_surrogate_is_refused_not_crashed() -> None:
    raw = '{"a": "\ud800"}'.encode("utf-8", errors="surrogatepass")
    status, _ = post(endpoint(), "generic", raw, signed(raw, at=time.time()), encoded=False)
    assert status == 400
