"""Bad input never crashes the issuer or a workflow, never yields a token, never logs a
secret: hand-written cases, plus requests generated from the contracts' JSON Schemas and
arbitrary JSON thrown at both entry points (hypothesis)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimflow import WorkflowSettings, access_token_custom_claims, create_handler
from claimflow.issuer.app import handle
from claimflow.wire.contracts import schema_path
from tests.schema_strategies import token_requests
from tests.support import sample
from tests.unit.fakes import SECRET, invocation, services
from tests.unit.issuing import issuer_with, patching, user_request

OAUTH_ERRORS = {"invalid_request", "access_denied", "server_error", "temporarily_unavailable"}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)
ISSUER = issuer_with([("a", patching("a", {"plan": "pro"}), "stop")])
HYPOTHESIS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_refused_cleanly(answer: dict[str, Any]) -> None:
    assert answer["error"] in OAUTH_ERRORS
    assert "access_token" not in answer and "id_token" not in answer
    json.dumps(answer)


@HYPOTHESIS
@given(json_values)
def test_any_json_as_a_token_request_is_invalid_request(document: Any) -> None:
    answer = handle(ISSUER, document)
    assert_refused_cleanly(answer)
    assert answer["error"] == "invalid_request"


@HYPOTHESIS
@given(st.data())
def test_any_value_at_any_field_of_a_valid_request_gives_a_token_or_invalid_request(data: st.DataObject) -> None:
    request = user_request()
    path = data.draw(
        st.sampled_from(
            [
                ("subject",),
                ("client_id",),
                ("audience",),
                ("scope",),
                ("nonce",),
                ("auth_time",),
                ("organization",),
                ("claims",),
                ("event", "request"),
                ("event", "context", "user"),
                ("event", "context", "auth", "origin"),
                ("correlation_id",),
            ]
        )
    )
    target = request
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(json_values)
    answer = handle(ISSUER, request)
    if "error" in answer:
        assert_refused_cleanly(answer)
        assert answer["error"] == "invalid_request", answer
    else:
        assert answer["token_type"] == "Bearer"


TOKEN_REQUEST_SCHEMA = json.loads(schema_path("token-request.v1").read_text())


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    token_requests(TOKEN_REQUEST_SCHEMA, "user:tokens_generation") | token_requests(TOKEN_REQUEST_SCHEMA, "m2m:token_generation")
)
def test_schema_valid_requests_never_fail_on_the_issuers_side(document: dict[str, Any]) -> None:
    answer = handle(ISSUER, document)
    if "error" in answer:  # valid by schema, yet e.g. a generated claim name is reserved: the request's fault, named
        assert answer["error"] == "invalid_request", answer
    else:
        assert answer["access_token"].count(".") == 2


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(token_requests(TOKEN_REQUEST_SCHEMA, "user:tokens_generation"))
def test_schema_valid_requests_get_a_token(document: dict[str, Any]) -> None:
    """The event is derived from the request's fields, so no pair of fields can disagree."""
    document.pop("claims", None)  # generated claim names may be reserved ones: covered above
    answer = handle(ISSUER, document)
    assert "error" not in answer, answer
    assert answer["token_type"] == "Bearer"


@HYPOTHESIS
@given(json_values)
def test_any_json_as_a_workflow_invocation_is_a_failed_reply_not_a_crash(document: Any) -> None:
    settings_ = WorkflowSettings(id="wf", trigger="user:tokens_generation", bindings={"kinde.accessToken": {}})
    ran: list[Any] = []
    reply = create_handler(settings_, ran.append, services=services())(document, None)
    assert (reply["outcome"], reply["error"]["code"], reply["patches"]) == ("failed", "invalid_request", {})
    assert ran == []


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("event", {**sample("issuer.user-token.json")["event"], "request": nested(5000)}, "nested deeper than 32 levels"),
        ("audience", ["https://api.example.com/v1"] * 100_000, "audience"),
        ("subject", "u" * 100_000, "subject"),
        ("scope", ["openid", "admin role"], "scope"),
        ("claims", {"access_token": {"iss": "https://evil"}}, "'iss' is a reserved claim"),
        ("claims", {"access_token": {f"c{i}": i for i in range(500)}}, "claims"),
        ("claims", {"id_token": {"nonce": "replayed"}}, "'nonce' is a reserved claim"),
        ("nonce", "\ud800", "not valid Unicode"),
        ("claims", {"access_token": {"note\udfff": 1}}, "not valid Unicode"),
    ],
)
def test_hostile_requests_are_invalid_request(field: str, value: Any, expected: str) -> None:
    request = user_request(**{field: value})
    answer = handle(ISSUER, request)
    assert_refused_cleanly(answer)
    assert answer["error"] == "invalid_request"
    assert expected in answer["error_description"]


def test_a_deeply_nested_workflow_invocation_is_refused_before_parsing_it_further() -> None:
    settings_ = WorkflowSettings(id="wf", trigger="user:tokens_generation", bindings={"kinde.accessToken": {}})
    request = invocation("wf", tokens={"access_token": {"x": nested(10_000)}})
    reply = create_handler(settings_, lambda e: None, services=services())(request, None)
    assert "nested deeper than 32 levels" in reply["error"]["message"]


def test_bad_input_never_logs_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    settings_ = WorkflowSettings(id="wf", trigger="user:tokens_generation", bindings={"kinde.env": {}, "kinde.accessToken": {}})

    def workflow(event: Any) -> None:
        from claimflow import get_environment_variable

        key = get_environment_variable("API_KEY")
        access_token_custom_claims()["key"] = object() if key else None  # a bad value, with the secret in scope

    handler = create_handler(settings_, workflow, services=services())
    replies = [handler(invocation("wf"), None), handler({"secret": SECRET}, None), handler(copy.deepcopy(invocation("wf")), None)]
    out = capsys.readouterr().out
    assert SECRET not in out and SECRET not in json.dumps(replies)
