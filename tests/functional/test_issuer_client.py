"""The identity stack's client (``IssuerClient``, over the real Lambda Invoke adapter) and the
local ``/token`` front: a request JSON cannot carry (NaN, Infinity) is refused as
invalid_request before anything is sent, and an issuer that refuses connections is reported
unavailable within a short connect budget, not after the whole timeout."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from claimflow.errors import InvalidTokenRequestError, IssuerUnavailableError
from claimflow.infra.lambda_api import LambdaInvokeClient
from claimflow.wire.client import IssuerClient
from claimflow_local.stack.token_endpoint import TokenRequestEndpoint
from tests.support import sample


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """An endpoint that would accept a connection: the test checks none was made."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.3)
    yield server
    server.close()


def client_for(port: int, *, timeout: float = 10.0) -> IssuerClient:
    invoker = LambdaInvokeClient(endpoint=f"http://127.0.0.1:{port}", credentials=("testing", "testing"))
    return IssuerClient("IssuerFunction", invoker=invoker, timeout=timeout)


def connected(server: socket.socket) -> bool:
    try:
        server.accept()[0].close()
    except TimeoutError:
        return False
    return True


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=["NaN", "Infinity", "-Infinity"])
def test_a_number_json_cannot_carry_is_invalid_request_and_nothing_is_sent(value: float, listener: socket.socket) -> None:
    request = {**sample("issuer.user-token.json"), "claims": {"access_token": {"score": value}}}
    with pytest.raises(InvalidTokenRequestError) as refused:
        client_for(listener.getsockname()[1]).request_tokens(request)
    assert refused.value.error_code == "invalid_request"
    assert "not JSON" in refused.value.description
    assert not connected(listener)


def test_the_local_token_front_refuses_nan_as_invalid_request_before_invoking(listener: socket.socket) -> None:
    endpoint = TokenRequestEndpoint(client_for(listener.getsockname()[1])).start()
    body = json.dumps(sample("issuer.user-token.json"))[:-1] + ', "auth_time": NaN}'
    try:
        request = urllib.request.Request(endpoint.url, data=body.encode(), headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as answered:
            urllib.request.urlopen(request, timeout=10)
        status, reply = answered.value.code, json.loads(answered.value.read())
    finally:
        endpoint.stop()
    assert (status, reply["error"]) == (400, "invalid_request")
    assert "NaN" in reply["error_description"]
    assert not connected(listener)


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port bound and never listened on: every connect to it is refused, and no one else takes it."""
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind(("127.0.0.1", 0))
    yield held.getsockname()[1]
    held.close()


def test_an_issuer_that_refuses_connections_is_unavailable_within_the_connect_budget(refusing_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(IssuerUnavailableError) as unavailable:
        client_for(refusing_port, timeout=10.0).request_tokens(sample("issuer.user-token.json"))
    elapsed = time.monotonic() - started
    assert elapsed < 2.5, f"{elapsed:.1f} s: the connect budget is 2 s, not the 10 s timeout"
    assert "cannot connect" in str(unavailable.value) and "3 tries" in str(unavailable.value)


def test_the_workflow_invoker_is_bounded_alike(refusing_port: int) -> None:
    invoker: Any = LambdaInvokeClient(endpoint=f"http://127.0.0.1:{refusing_port}", credentials=("testing", "testing"))
    started = time.monotonic()
    with pytest.raises(Exception, match="cannot connect"):
        invoker.invoke("SomeWorkflow", {"x": 1}, deadline=time.monotonic() + 10)
    assert time.monotonic() - started < 2.5
