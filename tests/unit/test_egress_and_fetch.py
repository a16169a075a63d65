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
from claimflow.infra.http_client import HttpRequest, HttpResponse
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


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",  # EC2 instance metadata (IMDS), Lambda's too
        "[fd00:ec2::254]",  # IMDS over IPv6
        "169.254.170.2",  # ECS task metadata and container credentials
        "169.254.170.23",  # EKS Pod Identity agent
        "[fd00:ec2::23]",  # EKS Pod Identity agent over IPv6
    ],
)
def test_every_cloud_metadata_address_is_refused_as_one_in_local_mode_too(host: str) -> None:
    """Local mode allows private addresses (the stand-ins), so metadata must be refused by name:
    fd00:ec2::23 is unique-local space, which local mode would otherwise reach."""
    with pytest.raises(EgressDeniedError, match="cloud metadata address"):
        check_url(f"http://{host}/v1/credentials", local_mode=True)


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


# --- one parser: URLs that parsers read differently are refused -----------------------------

PARSER_DIFFERENTIAL = [
    "https://api.example.com\\@evil.example/",  # WHATWG reads a backslash as a slash: host api.example.com
    "https://evil.example\\.api.example.com/",
    "https://api.example.com\t.evil.example/",
    "https://api.example.com\n.evil.example/",
    "https://api.example.com .evil.example/",
    "https://api.example.com%00.evil.example/",
    "https://evil.example#@api.example.com/",
    "https://evil.example?@api.example.com/",
    "https://api.example.com@evil.example/",
    "https://evil.example/\\api.example.com",
    " https://api.example.com/",
    "https://api.example.com\x7f/",
]


@pytest.mark.parametrize("url", PARSER_DIFFERENTIAL)
def test_urls_that_parsers_disagree_on_never_reach_a_host_outside_the_allowlist(url: str) -> None:
    with pytest.raises(EgressDeniedError):
        check_url(url, local_mode=False, allowed_hosts=["api.example.com"])


def test_the_guard_reads_the_host_as_the_http_client_does() -> None:
    from urllib3.util import parse_url

    for url in ["https://API.Example.COM:443/x", "https://api.example.com./x", "https://[2606:4700::1111]/"]:
        checked = check_url(url, local_mode=False)
        assert checked.host == (parse_url(url).host or "").lower().strip("[]")


# --- IPv4 inside IPv6 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "inner"),
    [
        ("2002:a9fe:a9fe::1", "169.254.169.254"),  # 6to4 of the metadata address
        ("2002:0a00:0001::1", "10.0.0.1"),  # 6to4 of a private address
        ("2001:0:4136:e378:8000:63bf:5601:5646", "teredo"),  # Teredo, client 169.254.169.185 (obfuscated)
        ("64:ff9b::a9fe:a9fe", "169.254.169.254"),  # NAT64
        ("64:ff9b::7f00:1", "127.0.0.1"),
        ("::a9fe:a9fe", "169.254.169.254"),  # IPv4-compatible (deprecated)
        ("::ffff:7f00:1", "127.0.0.1"),  # IPv4-mapped
    ],
)
def test_ipv4_embedded_in_ipv6_is_checked_as_the_ipv4_address_it_carries(address: str, inner: str) -> None:
    refusal = address_refusal(ipaddress.ip_address(address), allow_private=False)
    assert refusal is not None
    with pytest.raises(EgressDeniedError, match="refused"):
        check_url(f"https://[{address}]/", local_mode=False)


def test_6to4_and_nat64_of_the_metadata_address_are_refused_even_in_local_mode() -> None:
    for address in ("2002:a9fe:a9fe::1", "64:ff9b::a9fe:a9fe", "::ffff:a9fe:a9fe"):
        assert "metadata" in (address_refusal(ipaddress.ip_address(address), allow_private=True) or "")


def test_public_ipv6_and_6to4_of_a_public_address_pass() -> None:
    assert address_refusal(ipaddress.ip_address("2606:4700:4700::1111"), allow_private=False) is None
    assert address_refusal(ipaddress.ip_address("2002:5db8:d70e::1"), allow_private=False) is None  # 93.184.215.14


# --- credentials across redirects -------------------------------------------------------------


def _redirect_routes(status: int, target: str) -> tuple[dict[Any, Any], list[HttpRequest]]:
    sent: list[HttpRequest] = []

    def record(answer: HttpResponse) -> Any:
        def responder(request: HttpRequest) -> HttpResponse:
            sent.append(request)
            return answer

        return responder

    routes = {
        ("POST", "https://api.example.com/start"): record(HttpResponse(status, {"Location": target}, b"")),
        ("GET", "https://api.example.com/start"): record(HttpResponse(status, {"Location": target}, b"")),
        ("POST", target): record(HttpResponse(200, {}, b"{}")),
        ("GET", target): record(HttpResponse(200, {}, b"{}")),
    }
    return routes, sent


SECRET_HEADERS = {"Authorization": "Bearer k-1", "Cookie": "s=1", "Proxy-Authorization": "Basic x", "X-Api-Key": "k-2"}


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_cross_origin_redirect_drops_credentials_and_marked_headers(status: int) -> None:
    routes, sent = _redirect_routes(status, "https://other.example.org/landing")
    outcome = _run(
        lambda e: fetch("https://api.example.com/start", headers=SECRET_HEADERS, sensitive_headers=["x-api-key"]), routes=routes
    )
    assert outcome["outcome"] == "ok", outcome
    first, second = sent
    assert {"Authorization", "Cookie", "Proxy-Authorization", "X-Api-Key"} <= set(first.headers)
    assert not {"Authorization", "Cookie", "Proxy-Authorization", "X-Api-Key"} & set(second.headers)


@pytest.mark.parametrize("status", [301, 307, 308])
def test_a_same_origin_redirect_keeps_the_headers(status: int) -> None:
    routes, sent = _redirect_routes(status, "https://api.example.com/landing")
    assert _run(lambda e: fetch("https://api.example.com/start", headers=SECRET_HEADERS), routes=routes)["outcome"] == "ok"
    assert sent[1].headers["Authorization"] == "Bearer k-1"


@pytest.mark.parametrize("status", [307, 308])
def test_a_body_is_never_replayed_to_another_origin(status: int) -> None:
    routes, sent = _redirect_routes(status, "https://other.example.org/landing")
    outcome = _run(lambda e: fetch("https://api.example.com/start", method="POST", body={"pii": 1}), routes=routes)
    assert outcome["outcome"] == "failed"
    assert "would resend the request body" in outcome["error"]["message"]
    assert len(sent) == 1


def test_a_same_origin_307_replays_the_body_and_a_303_turns_into_a_get() -> None:
    routes, sent = _redirect_routes(307, "https://api.example.com/landing")
    assert _run(lambda e: fetch("https://api.example.com/start", method="POST", body={"a": 1}), routes=routes)["outcome"] == "ok"
    assert (sent[1].method, sent[1].body) == ("POST", b'{"a":1}')
    routes, sent = _redirect_routes(303, "https://other.example.org/landing")
    assert _run(lambda e: fetch("https://api.example.com/start", method="POST", body={"a": 1}), routes=routes)["outcome"] == "ok"
    assert (sent[1].method, sent[1].body) == ("GET", None)
