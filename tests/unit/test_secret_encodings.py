"""No form of a secret ever leaves: whatever its characters (a trailing newline from a file,
quotes, backslashes, spaces, non-ASCII), it appears in no log line, no workflow reply, no
issuer reply and no error text, raw, JSON-escaped, repr-escaped or percent-encoded. The
encodings are written out here, independently of the redaction's own list."""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimflow import WorkflowSettings, console, create_handler, deny_access, fetch, get_environment_variable
from claimflow.infra.guarded_http_client import RequestsHttpClient
from claimflow.infra.parameters import InMemoryParameterStore
from claimflow.issuer.app import handle
from claimflow.runtime import WorkflowServices
from tests.support import record_figure
from tests.unit.fakes import invocation
from tests.unit.issuing import PATHS, issuer_with, user_request

LEAKS = ["log", "log_json", "raise", "raise_repr", "url", "header", "deny", "claim_name"]

#: Anything a secret may hold, with the characters that escape differently in each sink.
secret_strings = st.tuples(
    st.sampled_from(["", "\n", " ", "\t", "\r\n"]),
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]) | st.sampled_from(list("\"\\'%+ \n/?&=")),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(["", "\n", " ", "\t"]),
).map(lambda parts: f"{parts[0]}K9q{parts[1]}{parts[2]}")  # a stem no fixed text contains


def forms_of(secret: str) -> set[str]:
    found = set()
    for value in (secret, secret.strip()):
        found |= {
            value,
            json.dumps(value)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
            repr(value)[1:-1],
            quote(value, safe=""),
            quote_plus(value),
        }
    return {form for form in found if len(form) >= 4}


def refuse_dns(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.9.9.9", port))]  # private: refused before any connection


def leaky_workflow(leak: str) -> Any:
    def workflow(event: Any) -> None:
        secret = get_environment_variable("API_KEY").value  # type: ignore[union-attr]
        if leak == "log":
            console.log("the key is", secret)
        elif leak == "log_json":
            console.error(json.dumps({"key": secret}))
        elif leak == "raise":
            raise RuntimeError(f"upstream rejected {secret}")
        elif leak == "raise_repr":
            raise ValueError({"key": secret})
        elif leak == "url":
            fetch(f"https://api.example.com/u/{quote(secret, safe='')}?k={quote_plus(secret)}")
        elif leak == "header":
            fetch("https://api.example.com/u", headers={"Authorization": f"Bearer {secret}"})
        elif leak == "deny":
            deny_access(f"key {secret} is revoked")
        elif leak == "claim_name":
            from claimflow import access_token_custom_claims

            access_token_custom_claims()[f"x{secret}"] = 1

    return workflow


def run_leaky(secret: str, leak: str) -> dict[str, Any]:
    settings_ = WorkflowSettings(
        id="leaky",
        trigger="user:tokens_generation",
        bindings={"kinde.env": {}, "kinde.fetch": {}, "url": {}, "kinde.auth": {}, "kinde.accessToken": {}},
    )
    services = WorkflowServices(
        paths=PATHS,
        _parameters=InMemoryParameterStore({f"{PATHS.shared_env}/API_KEY": (secret, True)}),
        _http=RequestsHttpClient(resolve=refuse_dns),
    )
    reply: dict[str, Any] = create_handler(settings_, leaky_workflow(leak), services=services)(invocation("leaky"), None)
    return reply


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=secret_strings, leak=st.sampled_from(LEAKS))
def test_no_form_of_any_secret_leaves_a_workflow(secret: str, leak: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    reply = run_leaky(secret, leak)
    outputs = capsys.readouterr().out + json.dumps(reply) + json.dumps(reply, ensure_ascii=False)
    leaked = sorted(form for form in forms_of(secret) if form in outputs)
    assert not leaked, f"{leak}: {leaked!r} in {outputs!r}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=secret_strings, leak=st.sampled_from(LEAKS))
def test_no_form_of_any_secret_reaches_the_issuers_reply_or_logs(
    secret: str, leak: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    def through_a_workflow(payload: dict[str, Any], context: Any) -> Any:
        return run_leaky(secret, leak)

    answer = handle(issuer_with([("leaky", through_a_workflow, "stop")]), user_request())
    outputs = capsys.readouterr().out + json.dumps(answer) + json.dumps(answer, ensure_ascii=False)
    leaked = sorted(form for form in forms_of(secret) if form in outputs)
    assert not leaked, f"{leak}: {leaked!r}"


def test_a_secret_with_a_trailing_newline_is_redacted_in_every_sink(capsys: pytest.CaptureFixture[str]) -> None:
    appearances = 0
    for leak in LEAKS:
        reply = run_leaky("s3cr3t-from-a-file\n", leak)
        outputs = capsys.readouterr().out + json.dumps(reply)
        appearances += sum(outputs.count(form) for form in forms_of("s3cr3t-from-a-file\n"))
        assert "s3cr3t" not in outputs, leak
    record_figure("secret_variants", {"sinks": len(LEAKS), "appearances": appearances})
