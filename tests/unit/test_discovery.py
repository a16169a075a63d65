"""The issuer's metadata advertises exactly what is configured or served: every member comes
from a parameter of the identity stack in front of the issuer, the token kinds' table or the
served JWKS, and a member with nothing behind it is left out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from claimflow.errors import ConfigurationError
from claimflow.infra.parameters import InMemoryParameterStore
from claimflow.keys.discovery import (
    IdentityStackEndpoints,
    authorization_server_metadata,
    claims_supported,
    endpoints_from_environment,
    openid_configuration,
)
from claimflow.keys.jwks import JwksEndpoints
from claimflow.keys.manager import KeyManager
from claimflow.tokens import TOKENS
from tests.support import sample
from tests.unit.issuing import PATHS

ISSUER = "https://issuer.test"
FULL = IdentityStackEndpoints(
    authorization="https://login.test/authorize",
    token="https://login.test/token",
    userinfo="https://login.test/userinfo",
    end_session="https://login.test/logout",
    revocation="https://login.test/revoke",
    grant_types=("authorization_code", "refresh_token", "client_credentials"),
    scopes=("openid", "profile", "read:reports"),
    token_auth_methods=("client_secret_basic", "private_key_jwt"),
)


def test_with_nothing_configured_only_what_the_issuer_itself_serves_is_advertised() -> None:
    document = authorization_server_metadata(ISSUER, IdentityStackEndpoints())
    assert document == {
        "issuer": ISSUER,
        "jwks_uri": f"{ISSUER}/.well-known/jwks.json",
        "response_types_supported": [],
        "grant_types_supported": [],
        "claims_supported": claims_supported(),
    }
    assert (
        openid_configuration(ISSUER, IdentityStackEndpoints(), ["RS256"]) is None
    )  # Discovery 1.0 needs an authorization endpoint


def test_every_configured_endpoint_and_capability_is_advertised_as_configured() -> None:
    document = openid_configuration(ISSUER, FULL, ["ES256", "RS256"])
    assert document is not None
    assert document["authorization_endpoint"] == FULL.authorization
    assert document["token_endpoint"] == FULL.token
    assert document["userinfo_endpoint"] == FULL.userinfo
    assert document["end_session_endpoint"] == FULL.end_session
    assert document["revocation_endpoint"] == FULL.revocation
    assert document["grant_types_supported"] == ["authorization_code", "refresh_token", "client_credentials"]
    assert document["response_types_supported"] == ["code"]
    assert document["scopes_supported"] == ["openid", "profile", "read:reports"]
    assert document["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "private_key_jwt"]
    assert document["revocation_endpoint_auth_methods_supported"] == ["client_secret_basic", "private_key_jwt"]
    assert document["subject_types_supported"] == ["public"]
    assert document["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]


def test_grant_types_are_derived_from_the_endpoints_there_are() -> None:
    assert IdentityStackEndpoints(token="https://t").grants == ("client_credentials",)
    assert IdentityStackEndpoints(authorization="https://a", token="https://t").grants == (
        "authorization_code",
        "client_credentials",
    )
    assert authorization_server_metadata(ISSUER, IdentityStackEndpoints(token="https://t"))["response_types_supported"] == []


def test_a_grant_type_without_its_endpoint_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="authorization_code needs the identity stack's authorization endpoint"):
        IdentityStackEndpoints(token="https://t", grant_types=("authorization_code",))
    with pytest.raises(ConfigurationError, match="unknown token endpoint auth method"):
        IdentityStackEndpoints(token_auth_methods=("client_secret_jwks",))


def test_claims_supported_are_the_claims_the_token_kinds_mint() -> None:
    assert set(claims_supported()) == {claim for spec in TOKENS.values() for claim in spec.minted}
    assert {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "auth_time", "nonce", "azp", "gty"} <= set(
        claims_supported()
    )


def test_the_template_parameters_reach_discovery_through_the_environment() -> None:
    endpoints = endpoints_from_environment(
        {
            "CLAIMFLOW_AUTHORIZATION_ENDPOINT": "https://login.test/authorize",
            "CLAIMFLOW_TOKEN_ENDPOINT": "https://login.test/token",
            "CLAIMFLOW_GRANT_TYPES": "authorization_code, refresh_token",
            "CLAIMFLOW_SCOPES": "openid,profile",
            "CLAIMFLOW_TOKEN_ENDPOINT_AUTH_METHODS": "client_secret_post",
        }
    )
    assert endpoints.grants == ("authorization_code", "refresh_token")
    assert endpoints.scopes == ("openid", "profile")
    assert endpoints.token_auth_methods == ("client_secret_post",)


def served(
    path: str, *, method: str = "GET", endpoints: IdentityStackEndpoints | None = None, store: Any = None
) -> dict[str, Any]:
    if store is None:
        store = InMemoryParameterStore()
        KeyManager(store, PATHS).init(alg="ES256")
    event = sample("jwks.get-jwks.json")
    event = {
        **event,
        "rawPath": path,
        "requestContext": {**event["requestContext"], "http": {**event["requestContext"]["http"], "method": method}},
    }
    answer: dict[str, Any] = JwksEndpoints(store=store, paths=PATHS, endpoints=endpoints).handle(event)
    return answer


@pytest.mark.parametrize(
    "path", ["/.well-known/jwks.json", "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]
)
def test_the_key_set_and_both_metadata_documents_carry_cors_and_answer_a_preflight(path: str) -> None:
    answer = served(path, endpoints=FULL)
    assert answer["statusCode"] == 200 and answer["headers"]["Access-Control-Allow-Origin"] == "*"
    assert answer["headers"]["Cache-Control"] == "public, max-age=300"
    preflight = served(path, method="OPTIONS", endpoints=FULL)
    assert preflight["statusCode"] == 204
    assert preflight["headers"]["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight["headers"]["Access-Control-Allow-Methods"]


def test_error_answers_are_never_publicly_cacheable() -> None:
    missing_keys = served("/.well-known/jwks.json", store=InMemoryParameterStore())
    assert missing_keys["statusCode"] == 503 and missing_keys["headers"]["Cache-Control"] == "no-store"
    assert served("/nothing")["headers"]["Cache-Control"] == "no-store"
    assert served("/.well-known/jwks.json", method="POST")["headers"]["Cache-Control"] == "no-store"
    no_oidc = served("/.well-known/openid-configuration")
    assert no_oidc["statusCode"] == 404 and no_oidc["headers"]["Cache-Control"] == "no-store"
    assert "oauth-authorization-server" in json.loads(no_oidc["body"])["error_description"]


def test_the_issuer_is_never_built_from_the_host_header() -> None:
    store = InMemoryParameterStore()
    KeyManager(store, PATHS).init(alg="RS256")
    event = sample("jwks.oauth-authorization-server.json")
    event["headers"] = {
        **event["headers"],
        "host": "evil.example",
        "x-forwarded-proto": "http",
        "x-forwarded-host": "evil.example",
    }
    document = json.loads(JwksEndpoints(store=store, paths=PATHS).handle(event)["body"])
    assert document["issuer"] == f"https://{event['requestContext']['domainName']}"
    assert "evil" not in json.dumps(document)
