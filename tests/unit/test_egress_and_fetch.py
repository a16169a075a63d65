"""fetch's URL policy (SSRF guard, allowlist, scheme), redirects, deadline and parsing,
on the stub HTTP client."""

from __future__ import annotations

import base64
import ipaddress
import json
import time
from typing import Any

import pytest

from claimflow import EgressDeniedError, EventView, FetchError, WorkflowSettings, create_handler, fetch, secure_fetch
from claimflow.bindings.fetch import decrypt_body
from claimflow.infra.egress import address_refusal, check_url
from claimflow.infra.http import HttpRequest, HttpResponse
from tests.unit.fakes import invocation, services


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://10.0.0.1/api",
        "https://127.0.0.1/api",
        "https://[::1]/api",
        "https://[::ffff:169.254.169.254]/",
        "https://192.168.1.1/",
        "https://169.254.10.10/",
    ],
)
def test_private_loopback_link_local_and_metadata_literals_are_refused(url: str) -> None:
    with pytest.raises(EgressDeniedError, match="refused"):
        check_url(url, local_mode=False)


def test_metadata_is_refused_even_in_local_mode() -> None:
    with pytest.raises(EgressDeniedError, match="cloud metadata address"):
        check_url("http://169.254.169.254/", local_mode=True)
    assert address_refusal(ipaddress.ip_address("127.0.0.1"), allow_private=True) is None


def test_plain_http_only_in_local_mode() -> None:
    with pytest.raises(EgressDeniedError, match="scheme 'http' refused; use https"):
        check_url("http://api.example.com/", local_mode=False)
    assert check_url("http://127.0.0.1:8080/", local_mode=True).port == 8080


@pytest.mark.parametrize("url", ["file:///etc/passwd", "https://user:pw@api.example.com/", "https:///nohost", "https://h:99999/"])
def test_urls_that_are_not_plain_https_endpoints_are_refused(url: str) -> None:
    with pytest.raises(EgressDeniedError):
        check_url(url, local_mode=False)


def test_allowlist_accepts_exact_and_wildcard_hosts_only() -> None:
    hosts = ["api.example.com", "*.billing.example.net"]
    check_url("https://api.example.com/x", local_mode=False, allowed_hosts=hosts)
    check_url("https://eu.billing.example.net/x", local_mode=False, allowed_hosts=hosts)
    with pytest.raises(EgressDeniedError, match="not in the url binding's allowedHosts"):
        check_url("https://evil.example.com/x", local_mode=False, allowed_hosts=hosts)


def _run(workflow: Any, *, bindings: dict[str, Any] | None = None, **service_options: Any) -> dict[str, Any]:
    settings = WorkflowSettings(
        id="fetcher",
        trigger="user:tokens_generation",
        bindings=bindings or {"kinde.fetch": {}, "url": {}, "kinde.accessToken": {}},
    )
    return create_handler(settings, workflow, services=services(**service_options))(invocation("fetcher"), None)


def test_a_redirect_to_the_metadata_service_is_refused() -> None:
    routes = {("GET", "https://api.example.com/r"): HttpResponse(302, {"Location": "https://169.254.169.254/latest/"}, b"")}
    result = _run(lambda event: fetch("https://api.example.com/r"), routes=routes)
    assert result["error"]["type"] == "EgressDeniedError"
    assert "169.254.169.254" in result["error"]["message"]


def test_redirects_are_followed_and_rechecked_against_the_allowlist() -> None:
    routes = {
        ("GET", "https://api.example.com/old"): HttpResponse(301, {"Location": "/new"}, b""),
        ("GET", "https://api.example.com/new"): HttpResponse(200, {}, b'{"ok": true}'),
        ("GET", "https://api.example.com/away"): HttpResponse(302, {"Location": "https://other.example.org/"}, b""),
    }
    bindings = {"kinde.fetch": {}, "url": {"allowedHosts": ["api.example.com"]}, "kinde.accessToken": {}}
    seen: list[Any] = []
    assert (
        _run(lambda e: seen.append(fetch("https://api.example.com/old").data), bindings=bindings, routes=routes)["outcome"]
        == "ok"
    )
    assert seen == [{"ok": True}]
    result = _run(lambda e: fetch("https://api.example.com/away"), bindings=bindings, routes=routes)
    assert "host 'other.example.org' is not in the url binding's allowedHosts" in result["error"]["message"]


def test_fetch_returns_data_status_and_headers_and_sends_json_bodies() -> None:
    captured: list[HttpRequest] = []

    def answer(request: HttpRequest) -> HttpResponse:
        captured.append(request)
        return HttpResponse(201, {"X-Id": "7"}, b"created")

    results: list[Any] = []

    def workflow(event: EventView) -> None:
        result = fetch("https://api.example.com/items", method="post", body={"a": 1}, response_format="text")
        results.append((result.data, result.status, result.headers["X-Id"]))

    assert _run(workflow, routes={("POST", "https://api.example.com/items"): answer})["outcome"] == "ok"
    assert results == [("created", 201, "7")]
    assert json.loads(captured[0].body or b"") == {"a": 1}
    assert captured[0].headers["Content-Type"] == "application/json"


def test_the_fetch_timeout_is_bounded_by_the_workflows_deadline() -> None:
    timeouts: list[float] = []

    def answer(request: HttpRequest) -> HttpResponse:
        timeouts.append(request.timeout)
        return HttpResponse(200, {}, b"{}")

    settings = WorkflowSettings(id="fetcher", trigger="user:tokens_generation", bindings={"kinde.fetch": {}, "url": {}})
    handler = create_handler(
        settings,
        lambda e: fetch("https://api.example.com/", timeout=30),
        services=services(routes={("GET", "https://api.example.com/"): answer}),
    )
    handler(invocation("fetcher", deadline_ms=800), None)
    assert 0.5 < timeouts[0] <= 0.8


def test_no_time_left_is_a_fetch_error_not_a_hang() -> None:
    def workflow(event: EventView) -> None:
        time.sleep(0.15)
        fetch("https://api.example.com/")

    settings = WorkflowSettings(id="fetcher", trigger="user:tokens_generation", bindings={"kinde.fetch": {}, "url": {}})
    result = create_handler(settings, workflow, services=services(routes={}))(invocation("fetcher", deadline_ms=150), None)
    assert result["error"]["type"] == "FetchError"
    assert "no time left" in result["error"]["message"]


def test_secure_fetch_sends_nonce_tag_ciphertext_under_the_workflows_key() -> None:
    key = bytes(range(32))
    bodies: list[bytes] = []

    def answer(request: HttpRequest) -> HttpResponse:
        bodies.append(request.body or b"")
        return HttpResponse(200, {}, b'{"received": true}')

    settings = WorkflowSettings(id="secure", trigger="user:tokens_generation", bindings={"kinde.secureFetch": {}, "url": {}})
    svc = services(
        routes={("POST", "https://api.example.com/s"): answer},
        parameters={"/claimflow/test/workflows/secure/secure-fetch-key": (base64.b64encode(key).decode(), True)},
    )
    result = create_handler(settings, lambda e: secure_fetch("https://api.example.com/s", body={"user": "u1"}), services=svc)(
        invocation("secure"), None
    )
    assert result["outcome"] == "ok"
    raw = base64.b64decode(bodies[0])
    assert len(raw) == 12 + 16 + len(b'{"user":"u1"}')
    assert json.loads(decrypt_body(key, bodies[0].decode())) == {"user": "u1"}


def test_secure_fetch_without_a_key_names_where_to_put_it() -> None:
    settings = WorkflowSettings(id="secure", trigger="user:tokens_generation", bindings={"kinde.secureFetch": {}, "url": {}})
    result = create_handler(
        settings, lambda e: secure_fetch("https://api.example.com/s", body={}), services=services(parameters={})
    )(invocation("secure"), None)
    assert "/claimflow/test/workflows/secure/secure-fetch-key" in result["error"]["message"]


def test_a_transport_error_from_the_client_is_a_fetch_error_naming_the_url() -> None:
    routes = {("GET", "https://api.example.com/"): FetchError("https://api.example.com/", "timed out after 2.0s")}
    result = _run(lambda e: fetch("https://api.example.com/"), routes=routes)
    assert result["error"]["message"] == "fetch https://api.example.com/: timed out after 2.0s"
