"""What a resource server does with a claimflow access token, written to be copied:
verify the signature against the issuer's JWKS with a fixed algorithm allowlist (never the
token's own header), check ``typ`` (RFC 9068 §4), issuer, audience, expiry, then the scope the
route needs. One cached JWKS client per process: keys are fetched once and again only when a
token names a kid the cache does not have (a rotation), not per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import jwt

#: The algorithms this API accepts, whatever a token's header says (PyJWT's own warning: never
#: take ``algorithms`` from the token). Match the issuer's SigningAlgorithm.
ALGORITHMS: tuple[str, ...] = ("RS256", "ES256")
#: RFC 9068 §4: "at+jwt"; the full media type is accepted too (RFC 8725 §3.11).
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})


class Forbidden(Exception):
    """The token is valid but does not carry the scope the route needs (HTTP 403)."""


@cache
def jwks_client(jwks_url: str) -> jwt.PyJWKClient:
    """One JWKS client per process per key set, caching the keys between requests."""
    return jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300)


def verify_access_token(
    token: str, *, jwks_url: str, issuer: str, audience: str, required_scope: str, algorithms: Sequence[str] = ALGORITHMS
) -> dict[str, Any]:
    header = jwt.get_unverified_header(token)
    if header.get("typ") not in ACCESS_TOKEN_TYPES:  # refuse ID tokens and other JWTs
        raise jwt.InvalidTokenError(f"typ {header.get('typ')!r} is not an access token")
    key = jwks_client(jwks_url).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=list(algorithms),
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iat", "sub", "client_id"]},
    )
    if required_scope not in str(claims.get("scope", "")).split():
        raise Forbidden(f"the token lacks scope {required_scope}")
    return claims
