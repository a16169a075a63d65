"""The token bindings' functions: the current custom claims of each token the workflow
declared (``kinde.accessToken``, ``kinde.idToken``, ``kinde.m2mToken``)."""

from __future__ import annotations

from claimflow.claims import CustomClaims
from claimflow.runtime import current_invocation
from claimflow.tokens import TokenKind

__all__ = ["access_token_custom_claims", "id_token_custom_claims", "m2m_token_claims"]


def access_token_custom_claims() -> CustomClaims:
    """The access token's custom claims (binding ``kinde.accessToken``)."""
    return current_invocation().token_claims(TokenKind.ACCESS)


def id_token_custom_claims() -> CustomClaims:
    """The ID token's custom claims (binding ``kinde.idToken``)."""
    return current_invocation().token_claims(TokenKind.ID)


def m2m_token_claims() -> CustomClaims:
    """The M2M access token's custom claims (binding ``kinde.m2mToken``)."""
    return current_invocation().token_claims(TokenKind.M2M)
