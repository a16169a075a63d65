"""Every local HTTP server (the Lambda API, a Function URL, the token-request endpoint, the
third-party stand-in, the example OAuth endpoint, the kit's stub) answers bad framing with a
4xx JSON reply, sizes a body before reading it, drops a silent client after its read timeout,
and never builds the issuer's URL from the Host header."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from identity_stack.clients import ClientRegistry
from identity_stack.token_endpoint import ClientCredentialsGrant, OAuthTokenEndpoint

from claimflow.infra.ssm import SsmParameterStore
from claimflow_local.loopback import LoopbackHandler, LoopbackServer
from claimflow_local.stack.deployment import LocalDeployment
from claimflow_local.stack.token_endpoint import TokenRequestEndpoint
from claimflow_local.testing import StubServer


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, tuple[str, int, str]]]:
    """name -> (host, port, path) of each local server, all running."""
    with LocalDeployment() as stack:
        assert stack.emulator is not None and stack.ssm is not None and stack.third_party is not None
        token = TokenRequestEndpoint(stack.issuer_client()).start()
        registry = ClientRegistry(SsmParameterStore(client=stack.ssm.client()), stage="local")
        oauth = OAuthTokenEndpoint(ClientCredentialsGrant(stack.issuer_client(), registry)).start()
        stub = StubServer()

        def where(url: str, path: str) -> tuple[str, int, str]:
            host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
            return host, int(port), path

        yield {
            "lambda invoke API": where(stack.emulator.endpoint_url, "/2015-03-31/functions/IssuerFunction/invocations"),
            "function URL": where(stack.emulator.function_urls["JwksFunction"], "/.well-known/jwks.json"),
            "token-request endpoint": where(token.url, "/token"),
            "third-party stand-in": where(stack.third_party.url, "/api/user/u"),
            "example OAuth endpoint": where(oauth.url, "/oauth/token"),
            "testing kit stub": where(stub.url, "/anything"),
        }
        stub.stop()
        oauth.stop()
        token.stop()


def exchange(host: str, port: int, raw: bytes) -> tuple[int, dict[str, Any]]:
    with socket.create_connection((host, port), timeout=5) as connection:
        connection.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(
            next((line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), b"0")
        )
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(head.split(b" ")[1]), json.loads(body or b"{}")


SERVERS = [
    "lambda invoke API",
    "function URL",
    "token-request endpoint",
    "third-party stand-in",
    "example OAuth endpoint",
    "testing kit stub",
]


@pytest.mark.parametrize("length", ["abc", "-1", "99999999999"])
@pytest.mark.parametrize("server", SERVERS)
def test_a_bad_content_length_is_a_4xx_json_answer(servers: dict[str, tuple[str, int, str]], server: str, length: str) -> None:
    host, port, path = servers[server]
    raw = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{}}"
    status, body = exchange(host, port, raw.encode())
    assert 400 <= status < 500, (status, body)
    assert body, "a JSON body says what was wrong"


def test_every_local_handler_has_a_read_timeout() -> None:
    assert LoopbackHandler.timeout is not None and 0 < LoopbackHandler.timeout <= 60


def test_a_client_that_connects_and_says_nothing_is_dropped_at_the_read_timeout() -> None:
    class Quick(LoopbackHandler):
        timeout = 0.3

        def do_GET(self) -> None:
            self.send_json(200, {})

    server = LoopbackServer(Quick).start("quick")
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as silent:
            started = time.perf_counter()
            assert silent.recv(1) == b""  # the server closed it (else recv times out after 5 s)
            assert time.perf_counter() - started < 4  # at its 0.3 s read timeout
    finally:
        server.stop()


def test_the_host_header_never_becomes_the_issuer(servers: dict[str, tuple[str, int, str]]) -> None:
    host, port, _ = servers["function URL"]
    raw = "GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: evil.example\r\n\r\n"
    status, document = exchange(host, port, raw.encode())
    assert status == 200
    assert "evil.example" not in json.dumps(document)
