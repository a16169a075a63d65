"""fetch through the real requests adapter against a loopback server: keep-alive, caps,
timeouts and the address guard at connect time."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from claimflow import EgressDeniedError, FetchError
from claimflow.infra.guarded_http_client import RequestsHttpClient
from claimflow.infra.http_client import HttpRequest
from claimflow_local.loopback import LoopbackHandler, LoopbackServer
from claimflow_local.stack.third_party import StubThirdPartyApi
from tests.functional.conftest import USER_ID
from tests.support import record_figure


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
    third_party.configure(delay_ms=6000)
    started = time.perf_counter()
    with pytest.raises(FetchError, match="timed out"):
        RequestsHttpClient(allow_private=True).send(HttpRequest("GET", f"{third_party.url}/api/user/u", timeout=0.3))
    assert time.perf_counter() - started < 3.0  # its 0.3 s timeout, not the server's 6 s


def test_a_name_that_resolves_to_loopback_is_refused_outside_local_mode(third_party: StubThirdPartyApi) -> None:
    port = third_party.url.rsplit(":", 1)[1]
    with pytest.raises(EgressDeniedError, match="localhost resolves, but 127.0.0.1 is a loopback address"):
        RequestsHttpClient(allow_private=False).send(HttpRequest("GET", f"https://localhost:{port}/api/user/u"))
    assert third_party.requests == 0


def test_a_connection_refused_is_a_fetch_error_naming_the_url() -> None:
    with pytest.raises(FetchError, match=r"fetch http://127\.0\.0\.1:9/x: request failed: ConnectionError"):
        RequestsHttpClient(allow_private=True).send(HttpRequest("GET", "http://127.0.0.1:9/x"))


@pytest.fixture
def drip() -> Iterator[str]:
    """A server that answers at once, then sends its body a byte every half second."""
    stop = threading.Event()

    class Drip(LoopbackHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                if stop.wait(0.5):
                    return
                self.wfile.write(b"x")
                self.wfile.flush()

    server = LoopbackServer(Drip).start("drip")
    yield server.base_url
    stop.set()
    server.stop()


@pytest.fixture
def drip_headers() -> Iterator[str]:
    """A server that drips its status line and headers."""
    stop = threading.Event()

    class DripHeaders(LoopbackHandler):
        def do_GET(self) -> None:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 100:
                if stop.wait(0.5):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()

    server = LoopbackServer(DripHeaders).start("drip-headers")
    yield server.base_url
    stop.set()
    server.stop()


@pytest.mark.parametrize("server", ["drip", "drip_headers"])
def test_a_server_that_drips_is_cut_at_the_fetch_timeout_with_the_real_elapsed_time(
    server: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(server)
    started = time.perf_counter()
    with pytest.raises(FetchError, match=r"timed out after (\d+\.\d\d)s \(the limit is 1\.00s\)") as raised:
        RequestsHttpClient(allow_private=True).send(HttpRequest("GET", f"{url}/slow", timeout=1.0))
    elapsed = time.perf_counter() - started
    assert elapsed < 5, f"cut after {elapsed:.2f} s"  # at its 1 s timeout, not after the server's 50 s of drips
    reported = float(re.search(r"after (\d+\.\d\d)s", str(raised.value)).group(1))  # type: ignore[union-attr]
    assert 1.0 <= reported <= elapsed + 0.01, "the error gives the time it really took"
    record_figure(f"drip_{server}", {"timeout_s": 1.0, "error_after_s": round(elapsed, 3)})


def test_dns_that_never_answers_is_bounded_by_the_fetch_timeout() -> None:
    gate = threading.Event()

    def stuck(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        gate.wait()
        return socket.getaddrinfo("127.0.0.1", port, type=socket.SOCK_STREAM)

    started = time.perf_counter()
    try:
        with pytest.raises(FetchError, match="timed out"):
            RequestsHttpClient(allow_private=True, resolve=stuck).send(HttpRequest("GET", "http://api.test:9/x", timeout=0.5))
        assert time.perf_counter() - started < 3.0  # its 0.5 s timeout, not DNS's never
    finally:
        gate.set()


@pytest.fixture
def origins() -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """Two loopback servers (two origins): the first redirects to whatever ?to= names."""
    seen: list[dict[str, Any]] = []

    class Redirector(LoopbackHandler):
        def do_POST(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            body = self.read_body()
            seen.append({"server": "first", "path": self.path, "headers": dict(self.headers.items()), "body": body})
            target = self.path.split("to=", 1)[1]
            self.send(int(self.path.split("status=", 1)[1].split("&", 1)[0]), b"", {"Location": target})

    class Landing(LoopbackHandler):
        def do_POST(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            body = self.read_body()
            seen.append({"server": "second", "path": self.path, "headers": dict(self.headers.items()), "body": body})
            self.send_json(200, {"landed": True})

    first, second = LoopbackServer(Redirector).start("first"), LoopbackServer(Landing).start("second")
    yield first.base_url, second.base_url, seen
    first.stop()
    second.stop()


def _fetch(url: str, **options: Any) -> dict[str, Any]:
    from claimflow import WorkflowSettings, create_handler, fetch
    from claimflow.runtime import WorkflowServices
    from tests.unit.fakes import invocation

    settings = WorkflowSettings(id="fetcher", trigger="user:tokens_generation", bindings={"kinde.fetch": {}, "url": {}})
    handler = create_handler(settings, lambda e: fetch(url, **options), services=WorkflowServices(local_mode=True))
    return handler(invocation("fetcher"), None)


def test_over_real_http_a_cross_origin_redirect_carries_no_credentials(origins: tuple[str, str, list[dict[str, Any]]]) -> None:
    first, second, seen = origins
    headers = {"Authorization": "Bearer k-live-1", "Cookie": "session=abc", "X-Api-Key": "k-2"}
    reply = _fetch(f"{first}/go?status=302&to={second}/landing", headers=headers, sensitive_headers=["X-Api-Key"])
    assert reply["outcome"] == "ok", reply
    assert [s["server"] for s in seen] == ["first", "second"]
    assert "Authorization" in seen[0]["headers"]
    assert not {"Authorization", "Cookie", "X-Api-Key"} & set(seen[1]["headers"])


def test_over_real_http_a_same_origin_redirect_keeps_them(origins: tuple[str, str, list[dict[str, Any]]]) -> None:
    first, _, seen = origins
    reply = _fetch(f"{first}/go?status=307&to={first}/go%3Fstatus=200", headers={"Authorization": "Bearer k-live-1"})
    assert seen[1]["headers"].get("Authorization") == "Bearer k-live-1", (reply, seen)


def test_over_real_http_a_body_is_not_replayed_cross_origin(origins: tuple[str, str, list[dict[str, Any]]]) -> None:
    first, second, seen = origins
    reply = _fetch(f"{first}/go?status=307&to={second}/landing", method="POST", body={"pii": "x"})
    assert reply["outcome"] == "failed" and "would resend the request body" in reply["error"]["message"]
    assert [s["server"] for s in seen] == ["first"]
