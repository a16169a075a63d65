"""The issuer's metadata: RFC 8414 authorization server metadata and OpenID Connect Discovery
1.0, advertising exactly what is configured or served and nothing else.

claimflow signs tokens; the identity stack in front of it serves the OAuth endpoints. So the
endpoints come from the identity stack's configuration (template parameters), the grant and
response types from the endpoints there are, the claims from the token kinds' table, the
signing algorithms from the served JWKS. OpenID Connect Discovery requires an authorization
endpoint, so without one only the RFC 8414 document is served. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from claimflow.environment import Env, env_list, env_str
from claimflow.errors import ConfigurationError
from claimflow.tokens import TOKENS

__all__ = [
    "IdentityStackEndpoints",
    "authorization_server_metadata",
    "claims_supported",
    "endpoints_from_environment",
    "openid_configuration",
]

_NEEDS = {"authorization_code": "authorization", "refresh_token": "token", "client_credentials": "token"}
_AUTH_METHODS = frozenset({"client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt", "none"})


@dataclass(frozen=True, kw_only=True)
class IdentityStackEndpoints:
    """What the identity stack in front of the issuer serves (empty: it does not)."""

    authorization: str = ""
    token: str = ""
    userinfo: str = ""
    end_session: str = ""
    revocation: str = ""
    grant_types: tuple[str, ...] = ()  # empty: derived from the endpoints
    scopes: tuple[str, ...] = ()
    token_auth_methods: tuple[str, ...] = ("client_secret_basic",)

    def __post_init__(self) -> None:
        for grant in self.grant_types:
            needed = _NEEDS.get(grant)
            if needed is not None and not getattr(self, needed):
                raise ConfigurationError(f"grant type {grant} needs the identity stack's {needed} endpoint; configure it")
        unknown = sorted(set(self.token_auth_methods) - _AUTH_METHODS)
        if unknown:
            raise ConfigurationError(f"unknown token endpoint auth method(s): {', '.join(unknown)}")

    @property
    def grants(self) -> tuple[str, ...]:
        if self.grant_types:
            return self.grant_types
        derived = []
        if self.authorization:
            derived.append("authorization_code")
        if self.token:
            derived.append("client_credentials")
        return tuple(derived)


def endpoints_from_environment(environ: Mapping[str, str] | None = None) -> IdentityStackEndpoints:
    return IdentityStackEndpoints(
        authorization=env_str(Env.AUTHORIZATION_ENDPOINT, "", environ),
        token=env_str(Env.TOKEN_ENDPOINT, "", environ),
        userinfo=env_str(Env.USERINFO_ENDPOINT, "", environ),
        end_session=env_str(Env.END_SESSION_ENDPOINT, "", environ),
        revocation=env_str(Env.REVOCATION_ENDPOINT, "", environ),
        grant_types=env_list(Env.GRANT_TYPES, "", environ),
        scopes=env_list(Env.SCOPES, "", environ),
        token_auth_methods=env_list(Env.TOKEN_ENDPOINT_AUTH_METHODS, "client_secret_basic", environ),
    )


def claims_supported() -> list[str]:
    """The claims the issuer puts in tokens itself, from the token kinds' table."""
    return sorted({claim for spec in TOKENS.values() for claim in spec.minted})


def authorization_server_metadata(issuer: str, endpoints: IdentityStackEndpoints) -> dict[str, Any]:
    """RFC 8414 §2, with only the members that are true of this deployment."""
    document: dict[str, Any] = {"issuer": issuer, "jwks_uri": f"{issuer}/.well-known/jwks.json"}
    for member, value in (
        ("authorization_endpoint", endpoints.authorization),
        ("token_endpoint", endpoints.token),
        ("userinfo_endpoint", endpoints.userinfo),
        ("end_session_endpoint", endpoints.end_session),
        ("revocation_endpoint", endpoints.revocation),
    ):
        if value:
            document[member] = value
    if endpoints.scopes:
        document["scopes_supported"] = list(endpoints.scopes)
    document["response_types_supported"] = ["code"] if "authorization_code" in endpoints.grants else []
    document["grant_types_supported"] = list(endpoints.grants)
    if endpoints.token:
        document["token_endpoint_auth_methods_supported"] = list(endpoints.token_auth_methods)
    if endpoints.revocation:
        document["revocation_endpoint_auth_methods_supported"] = list(endpoints.token_auth_methods)
    document["claims_supported"] = claims_supported()
    return document


def openid_configuration(issuer: str, endpoints: IdentityStackEndpoints, algorithms: Sequence[str]) -> dict[str, Any] | None:
    """OpenID Connect Discovery 1.0 §3, or None when it cannot be true (no authorization endpoint)."""
    if not endpoints.authorization:
        return None
    document = authorization_server_metadata(issuer, endpoints)
    document["subject_types_supported"] = ["public"]
    document["id_token_signing_alg_values_supported"] = list(algorithms)
    return document
