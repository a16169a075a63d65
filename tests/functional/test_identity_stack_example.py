"""The example identity stack end to end: a real OAuth 2.0 client (Authlib) gets a
client-credentials token from the example token endpoint, which asks claimflow's issuer
(through the emulator); a resource-server check verifies it against the served JWKS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from identity_stack.clients import ClientRegistry
from identity_stack.resource_server import Forbidden, verify_access_token
from identity_stack.token_endpoint import ClientCredentialsGrant, OAuthTokenEndpoint

from claimflow.infra.ssm import SsmParameterStore
from claimflow.wire.client import IssuerClient
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
        IssuerClient("IssuerFunction", client=stack.lambda_client()),
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
