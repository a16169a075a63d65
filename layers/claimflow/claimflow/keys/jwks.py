"""The JWKS and metadata endpoints (a Lambda behind a public Function URL): the JWK set, RFC
8414 authorization server metadata and OpenID Connect discovery (``claimflow.keys.discovery``),
with CORS for browser clients. It reads only the public JWK set, never the private keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from claimflow.environment import Env, SsmPaths, env_flag, env_int, env_str
from claimflow.errors import ClaimflowError
from claimflow.infra.logs import logger_for
from claimflow.infra.parameters import ParameterStore
from claimflow.keys.discovery import (
    IdentityStackEndpoints,
    authorization_server_metadata,
    endpoints_from_environment,
    openid_configuration,
)
from claimflow.keys.errors import SigningKeyError

__all__ = ["JwksEndpoints", "lambda_handler"]

_log = logger_for("claimflow-jwks")
_CACHE_SECONDS = 300
JWKS_PATH = "/.well-known/jwks.json"
OPENID_CONFIGURATION_PATH = "/.well-known/openid-configuration"
OAUTH_METADATA_PATH = "/.well-known/oauth-authorization-server"
#: Browser clients (SPAs with an OIDC library) fetch these across origins.
_CORS = {"Access-Control-Allow-Origin": "*"}
_PREFLIGHT = {
    **_CORS,
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "*",
    "Access-Control-Max-Age": "86400",
}


class JwksEndpoints:
    def __init__(
        self,
        *,
        store: ParameterStore,
        paths: SsmPaths,
        issuer_url: str | None = None,
        endpoints: IdentityStackEndpoints | None = None,
        local_mode: bool = False,
    ) -> None:
        self._store = store
        self._paths = paths
        self._issuer_url = issuer_url.rstrip("/") if issuer_url else None
        self._endpoints = endpoints or IdentityStackEndpoints()
        self._scheme = "http" if local_mode else "https"  # Function URLs are HTTPS; the local emulator is not

    def jwks(self) -> dict[str, Any]:
        parameter = self._store.get(self._paths.public_jwks)
        if parameter is None:
            raise SigningKeyError(f"no public JWK set at {self._paths.public_jwks}; run './claimflow keys init'")
        document: dict[str, Any] = json.loads(parameter.value)
        return document

    def issuer(self, domain: str) -> str:
        """The configured issuer, else this function's own URL. ``domain`` is Lambda's
        ``requestContext.domainName`` (the URL's domain), never the client's Host header."""
        return self._issuer_url or f"{self._scheme}://{domain}"

    def algorithms(self) -> list[str]:
        return sorted({str(key.get("alg", "RS256")) for key in self.jwks()["keys"]})

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """A Function URL (payload 2.0) request in, an HTTP response out."""
        path = str(event.get("rawPath") or "/")
        method = str(event.get("requestContext", {}).get("http", {}).get("method", "GET"))
        if method == "OPTIONS":
            return {
                "statusCode": 204,
                "headers": {**_PREFLIGHT, "Cache-Control": f"public, max-age={_CACHE_SECONDS}"},
                "body": "",
            }
        if method not in ("GET", "HEAD"):
            return _refusal(405, "invalid_request", f"{method} is not allowed", {"Allow": "GET, HEAD, OPTIONS"})
        issuer = self.issuer(str(event.get("requestContext", {}).get("domainName") or "localhost"))
        try:
            if path == JWKS_PATH:
                return _document(self.jwks(), "application/jwk-set+json")
            if path == OAUTH_METADATA_PATH:
                return _document(authorization_server_metadata(issuer, self._endpoints))
            if path == OPENID_CONFIGURATION_PATH:
                document = openid_configuration(issuer, self._endpoints, self.algorithms())
                if document is None:
                    return _refusal(
                        404,
                        "not_found",
                        f"no authorization endpoint is configured, and OpenID Connect discovery needs one; "
                        f"the authorization server metadata is at {OAUTH_METADATA_PATH}",
                    )
                return _document(document)
        except ClaimflowError as error:
            _log.error("cannot serve keys", extra={"error": str(error)})
            return _refusal(503, "temporarily_unavailable", "the keys cannot be read now; try again")
        return _refusal(404, "not_found", f"serves {JWKS_PATH}, {OPENID_CONFIGURATION_PATH} and {OAUTH_METADATA_PATH}")


def _document(body: Mapping[str, Any], content_type: str = "application/json") -> dict[str, Any]:
    return {
        "statusCode": 200,
        "headers": {**_CORS, "Content-Type": content_type, "Cache-Control": f"public, max-age={_CACHE_SECONDS}"},
        "body": json.dumps(body),
    }


def _refusal(status: int, error: str, description: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """An error answer: never stored by a shared cache (a CDN must not serve a passing 503 for minutes)."""
    return {
        "statusCode": status,
        "headers": {**_CORS, "Content-Type": "application/json", "Cache-Control": "no-store", **(headers or {})},
        "body": json.dumps({"error": error, "error_description": description}),
    }


@cache
def _endpoints() -> JwksEndpoints:
    from claimflow.infra.ssm import SsmParameterStore

    return JwksEndpoints(
        store=SsmParameterStore(max_age=env_int(Env.KEYSET_TTL_SECONDS, 300)),
        paths=SsmPaths(),
        issuer_url=env_str(Env.ISSUER_URL, "") or None,
        endpoints=endpoints_from_environment(),
        local_mode=env_flag(Env.LOCAL_MODE),
    )


def lambda_handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    return _endpoints().handle(event)
