"""What a resource server does with a claimflow token: verify it against the JWKS, then
check audience, issuer, expiry and the scope the route needs."""

from __future__ import annotations

from typing import Any

import jwt


class Forbidden(Exception):
    """The token is valid but does not carry the scope the route needs (HTTP 403)."""


def verify_access_token(token: str, *, jwks_url: str, issuer: str, audience: str, required_scope: str) -> dict[str, Any]:
    header = jwt.get_unverified_header(token)
    if header.get("typ") != "at+jwt":  # RFC 9068 §4: refuse ID tokens and other JWTs
        raise jwt.InvalidTokenError(f"typ {header.get('typ')!r} is not an access token")
    key = jwt.PyJWKClient(jwks_url, cache_keys=True).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=[header["alg"]],
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iat", "sub", "client_id", "scope"]},
    )
    if required_scope not in claims["scope"].split():
        raise Forbidden(f"the token lacks scope {required_scope}")
    return claims
