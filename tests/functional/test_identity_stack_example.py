"""The example identity stack end to end: a real OAuth 2.0 client (Authlib) gets a
client-credentials token from the example token endpoint, which asks claimflow's issuer
(through the emulator); a resource-server check verifies it against the served JWKS."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from identity_stack.clients import ClientRegistry
from identity_stack.resource_server import Forbidden, verify_access_token
from identity_stack.token_endpoint import ClientCredentialsGrant, OAuthTokenEndpoint

from claimflow.infra.ssm import SsmParameterStore
from claimflow_local.stack.deployment import LocalDeployment

CLIENT, SECRET, API = "m2m_3c9e2a7f41d8", "example-client-secret-93b1d7", "https://api.example.com/v1"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalDeployment]:
    with LocalDeployment() as running:
        assert running.ssm is not None
        registry = ClientRegistry(SsmParameterStore(client=running.ssm.client(), max_age=0), stage="local")
        for client_id, record in running.settings["example_clients"].items():
            registry.register(client_id, secret=record["secret"], scopes=record["scopes"], audience=record["audience"])
        registry.register("m2m_no_org", secret="no-org-secret-5521", scopes=["read:reports"], audience=API)
        yield running


@pytest.fixture(scope="module")
def endpoint(stack: LocalDeployment) -> Iterator[OAuthTokenEndpoint]:
    assert stack.ssm is not None and stack.emulator is not None
    grant = ClientCredentialsGrant(
        stack.issuer_client(),
        ClientRegistry(SsmParameterStore(client=stack.ssm.client(), max_age=30), stage="local"),
    )
    running = OAuthTokenEndpoint(grant).start()
    yield running
    running.stop()


def issuer_of(stack: LocalDeployment) -> str:
    assert stack.emulator is not None
    return stack.emulator.function_urls["JwksFunction"].rstrip("/")


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_an_oauth_client_gets_a_token_a_resource_server_accepts(
    stack: LocalDeployment, endpoint: OAuthTokenEndpoint, auth_method: str
) -> None:
    session = OAuth2Session(CLIENT, SECRET, scope="read:reports", token_endpoint_auth_method=auth_method)
    token = session.fetch_token(endpoint.url, grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    claims = verify_access_token(
        token["access_token"], jwks_url=stack.jwks_url, issuer=issuer_of(stack), audience=API, required_scope="read:reports"
    )
    assert (claims["sub"], claims["gty"], claims["scope"]) == (CLIENT, "client_credentials", "read:reports")
    assert claims["org_code"] == "org_b5a9c8d7e6f5"  # stamped by the mapClientToOrganization workflow


def test_the_resource_server_refuses_a_token_without_the_routes_scope(
    stack: LocalDeployment, endpoint: OAuthTokenEndpoint
) -> None:
    token = OAuth2Session(CLIENT, SECRET, scope="read:reports").fetch_token(endpoint.url, grant_type="client_credentials")
    with pytest.raises(Forbidden, match="write:reports"):
        verify_access_token(
            token["access_token"], jwks_url=stack.jwks_url, issuer=issuer_of(stack), audience=API, required_scope="write:reports"
        )


@pytest.mark.parametrize(
    ("client_id", "secret", "scope", "error"),
    [
        (CLIENT, "wrong-secret", "read:reports", "invalid_client"),
        ("nobody", SECRET, "read:reports", "invalid_client"),
        (CLIENT, SECRET, "admin", "invalid_scope"),
        ("m2m_no_org", "no-org-secret-5521", "read:reports", "unauthorized_client"),  # the workflow denied it
    ],
)
def test_oauth_errors_reach_the_client(endpoint: OAuthTokenEndpoint, client_id: str, secret: str, scope: str, error: str) -> None:
    with pytest.raises(OAuthError) as refused:
        OAuth2Session(client_id, secret, scope=scope).fetch_token(endpoint.url, grant_type="client_credentials")
    assert refused.value.error == error


def test_random_client_ids_cost_no_ssm_call_and_no_cache_growth(stack: LocalDeployment) -> None:
    assert stack.ssm is not None
    client = stack.ssm.client()
    calls: list[str] = []
    client.meta.events.register("before-send.ssm.*", lambda **kwargs: calls.append(kwargs["event_name"]))
    store = SsmParameterStore(client=client, max_age=30)
    endpoint = OAuthTokenEndpoint(ClientCredentialsGrant(stack.issuer_client(), ClientRegistry(store, stage="local"))).start()
    try:
        for i in range(200):
            status, body = _post_form(
                endpoint.url, {"grant_type": "client_credentials", "client_id": f"random-{i}", "client_secret": "x"}
            )
            assert (status, body["error"]) == (401, "invalid_client")
        assert len(calls) == 1, calls  # the directory, read once
        assert len(store._cache) == 1
    finally:
        endpoint.stop()


def test_ssm_unavailable_is_a_503_json_answer_not_a_dropped_connection() -> None:
    import boto3
    from botocore.config import Config

    dead = boto3.client(
        "ssm",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(connect_timeout=0.2, retries={"max_attempts": 1}),
    )
    registry = ClientRegistry(SsmParameterStore(client=dead), stage="local")
    endpoint = OAuthTokenEndpoint(ClientCredentialsGrant(None, registry)).start()  # type: ignore[arg-type]
    try:
        status, body = _post_form(
            endpoint.url, {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET}
        )
        assert (status, body["error"]) == (503, "temporarily_unavailable")
        assert "127.0.0.1" not in body["error_description"] and "ssm" not in body["error_description"].lower()
    finally:
        endpoint.stop()


def test_get_on_the_token_endpoint_is_405_json(endpoint: OAuthTokenEndpoint) -> None:
    request = urllib.request.Request(endpoint.url, method="GET")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=5)
    assert answer.value.code == 405 and answer.value.headers["Allow"] == "POST"
    assert json.loads(answer.value.read())["error"] == "invalid_request"


def _post_form(url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
