"""The JWKS and OpenID discovery endpoints (a Lambda behind a public Function URL).

It reads only the public JWK set (an SSM String written by the key CLI), never the
private keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from claimflow.config import Env, SsmPaths, env_int, env_str
from claimflow.errors import ClaimflowError
from claimflow.infra.logs import logger_for
from claimflow.infra.parameters import ParameterStore
from claimflow.issuer.errors import SigningKeyError

__all__ = ["JwksEndpoints", "lambda_handler"]

_log = logger_for("claimflow-jwks")
_CACHE_SECONDS = 300


class JwksEndpoints:
    def __init__(self, *, store: ParameterStore, paths: SsmPaths, issuer_url: str | None = None) -> None:
        self._store = store
        self._paths = paths
        self._issuer_url = issuer_url.rstrip("/") if issuer_url else None

    def jwks(self) -> dict[str, Any]:
        parameter = self._store.get(self._paths.public_jwks)
        if parameter is None:
            raise SigningKeyError(f"no public JWK set at {self._paths.public_jwks}; run './claimflow keys init'")
        document: dict[str, Any] = json.loads(parameter.value)
        return document

    def discovery(self, issuer_url: str) -> dict[str, Any]:
        issuer = self._issuer_url or issuer_url.rstrip("/")
        algorithms = sorted({key.get("alg", "RS256") for key in self.jwks()["keys"]})
        return {
            "issuer": issuer,
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "id_token_signing_alg_values_supported": algorithms,
            "subject_types_supported": ["public"],
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "jti"],
        }

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """A Function URL (payload 2.0) request in, an HTTP response out."""
        path = str(event.get("rawPath") or "/")
        method = str(event.get("requestContext", {}).get("http", {}).get("method", "GET"))
        if method not in ("GET", "HEAD"):
            return _response(405, {"error": "method_not_allowed"}, {"Allow": "GET, HEAD"})
        headers = event.get("headers") or {}
        # Lambda sets domainName to the URL's own domain; the client's Host header is never used.
        domain = event.get("requestContext", {}).get("domainName") or "localhost"
        scheme = headers.get("x-forwarded-proto", "https")  # Function URLs are HTTPS; the local emulator says http
        try:
            if path == "/.well-known/jwks.json":
                return _response(200, self.jwks(), {"Content-Type": "application/jwk-set+json"})
            if path == "/.well-known/openid-configuration":
                return _response(200, self.discovery(f"{scheme}://{domain}"), {"Content-Type": "application/json"})
        except ClaimflowError as error:
            _log.error("cannot serve keys", extra={"error": error.description})
            return _response(503, {"error": "temporarily_unavailable", "error_description": error.description})
        return _response(404, {"error": "not_found", "paths": ["/.well-known/jwks.json", "/.well-known/openid-configuration"]})


def _response(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "Cache-Control": f"public, max-age={_CACHE_SECONDS}", **(headers or {})},
        "body": json.dumps(body),
    }


@cache
def _endpoints() -> JwksEndpoints:
    from claimflow.infra.ssm import SsmParameterStore

    return JwksEndpoints(
        store=SsmParameterStore(max_age=env_int(Env.KEYSET_TTL_SECONDS, 300)),
        paths=SsmPaths(),
        issuer_url=env_str(Env.ISSUER_URL, "") or None,
    )


def lambda_handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    return _endpoints().handle(event)
