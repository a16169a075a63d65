"""fetch through the real requests adapter against a loopback server: keep-alive, caps,
timeouts and the address guard at connect time."""

from __future__ import annotations

import time

import pytest

from claimflow import EgressDeniedError, FetchError
from claimflow.infra.http import HttpRequest
from claimflow.infra.requests_http import RequestsHttpClient
from claimflow_local.stack.third_party import StubThirdPartyApi
from tests.functional.conftest import USER_ID


def test_many_fetches_to_one_host_reuse_one_connection(third_party: StubThirdPartyApi) -> None:
    client = RequestsHttpClient(allow_private=True)
    for _ in range(200):
        assert client.send(HttpRequest("GET", f"{third_party.url}/api/user/{USER_ID}")).status == 200
    assert third_party.requests == 200
    assert third_party.connections == 1


def test_a_body_over_the_cap_is_refused(third_party: StubThirdPartyApi) -> None:
    third_party.configure(raw_body=b"x" * (2 << 20))
    with pytest.raises(FetchError, match="exceeds the 1048576-byte cap"):
        RequestsHttpClient(allow_private=True).send(HttpRequest("GET", f"{third_party.url}/api/user/u", max_bytes=1 << 20))


def test_a_hanging_server_is_a_timeout_within_the_bound(third_party: StubThirdPartyApi) -> None:
    third_party.configure(delay_ms=2000)
    started = time.perf_counter()
    with pytest.raises(FetchError, match="timed out"):
        RequestsHttpClient(allow_private=True).send(HttpRequest("GET", f"{third_party.url}/api/user/u", timeout=0.3))
    assert time.perf_counter() - started < 1.0


def test_a_name_that_resolves_to_loopback_is_refused_outside_local_mode(third_party: StubThirdPartyApi) -> None:
    port = third_party.url.rsplit(":", 1)[1]
    with pytest.raises(EgressDeniedError, match="localhost resolves to 127.0.0.1 is a loopback address"):
        RequestsHttpClient(allow_private=False).send(HttpRequest("GET", f"http://localhost:{port}/api/user/u"))
    assert third_party.requests == 0


def test_a_connection_refused_is_a_fetch_error_naming_the_url() -> None:
    with pytest.raises(FetchError, match=r"fetch http://127\.0\.0\.1:9/x: request failed: ConnectionError"):
        RequestsHttpClient(allow_private=True).send(HttpRequest("GET", "http://127.0.0.1:9/x"))
