"""Amazon Cognito's Pre Token Generation trigger (event versions 2 and 3), a claims hook
served by the issuer Lambda: Cognito's event becomes a token request (and so the seed-shaped
event), the same workflows run through the same runner and rules, and their claims come back
as ``claimsAndScopeOverrideDetails``.

Cognito signs the tokens, so nothing is minted here; its locked claims are reserved. A
denial or a ``stop`` failure raises, which fails the sign-in with that message. Cognito waits
at most 5 seconds for the trigger, so the budget is capped below that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claimflow.errors import ClaimflowError, ContractError
from claimflow.issuer.policy import Merged
from claimflow.issuer.request import SignIn, TokenRequest
from claimflow.tokens import TokenKind
from claimflow.triggers import WorkflowTrigger

__all__ = ["COGNITO_BUDGET_MS", "COGNITO_LOCKED_CLAIMS", "CognitoPreTokenGeneration"]

COGNITO_BUDGET_MS = 4500  # Cognito gives the trigger 5 s; leave room for the round trip
#: Claims Cognito sets and will not let a trigger change (plus the cognito: namespace).
COGNITO_LOCKED_CLAIMS = frozenset(
    {
        "acr",
        "amr",
        "aud",
        "at_hash",
        "auth_time",
        "azp",
        "c_hash",
        "client_id",
        "device_key",
        "event_id",
        "exp",
        "iat",
        "identities",
        "iss",
        "jti",
        "nbf",
        "nonce",
        "origin_jti",
        "scope",
        "sub",
        "token_use",
        "username",
        "version",
    }
)
_USER_SOURCES = frozenset(
    {
        "TokenGeneration_HostedAuth",
        "TokenGeneration_Authentication",
        "TokenGeneration_NewPasswordChallenge",
        "TokenGeneration_AuthenticateDevice",
        "TokenGeneration_RefreshTokens",
    }
)
_M2M_SOURCE = "TokenGeneration_ClientCredentials"


def _audience_from_scopes(scopes: list[str], client_id: str) -> list[str]:
    """Cognito names resource servers only through their scopes (``identifier/scope``)."""
    servers = sorted({s.rsplit("/", 1)[0] for s in scopes if "/" in s})
    return servers or [client_id]


class CognitoPreTokenGeneration:
    """Cognito's Pre Token Generation trigger, event versions 2 (user) and 3 (user and M2M)."""

    name: str = "Cognito"
    budget_ms: int = COGNITO_BUDGET_MS
    locked_claims: frozenset[str] = COGNITO_LOCKED_CLAIMS
    reserved_namespaces: tuple[str, ...] = ("cognito:",)

    def recognises(self, event: Any) -> bool:
        return isinstance(event, Mapping) and str(event.get("triggerSource", "")).startswith("TokenGeneration_")

    def token_request(self, event: Mapping[str, Any]) -> TokenRequest:
        source = event.get("triggerSource")
        version = str(event.get("version", ""))
        if version not in ("2", "3"):
            raise ContractError(
                f"Cognito pre token generation event version {version!r} is not supported; "
                "choose V2_0 (or V3_0 for M2M) in the user pool's trigger settings"
            )
        request = event.get("request") or {}
        client_id = str((event.get("callerContext") or {}).get("clientId") or "")
        if not client_id:
            raise ContractError("the Cognito event has no callerContext.clientId")
        scopes = [str(s) for s in request.get("scopes") or []]
        domain = f"https://cognito-idp.{event.get('region', 'us-east-1')}.amazonaws.com/{event.get('userPoolId', '')}"
        audience = tuple(_audience_from_scopes(scopes, client_id))
        if source == _M2M_SOURCE:
            if version != "3":
                raise ContractError("client-credentials tokens need the V3_0 trigger event")
            return TokenRequest(
                trigger=WorkflowTrigger.M2MTokenGeneration,
                client_id=client_id,
                audience=audience,
                domain=domain,
                scope=tuple(scopes),
            )
        if source not in _USER_SOURCES:
            raise ContractError(f"Cognito trigger source {source!r} is not a token generation source claimflow handles")
        subject = str((request.get("userAttributes") or {}).get("sub") or "")
        if not subject:
            raise ContractError("the Cognito event has no request.userAttributes.sub")
        origin = "refresh_token_request" if source == "TokenGeneration_RefreshTokens" else "authorization_request"
        return TokenRequest(
            trigger=WorkflowTrigger.UserTokenGeneration,
            client_id=client_id,
            audience=audience,
            domain=domain,
            scope=tuple(dict.fromkeys([*scopes, "openid"])),  # Cognito always issues the ID token
            subject=subject,
            sign_in=SignIn(auth={"origin": origin}),
        )

    def reply(self, event: Mapping[str, Any], request: TokenRequest, merged: Merged) -> dict[str, Any]:
        """The same event with ``response.claimsAndScopeOverrideDetails``."""
        details: dict[str, Any] = {
            "accessTokenGeneration": {
                "claimsToAddOrOverride": merged.claims[request.lead],
                "claimsToSuppress": [],
                "scopesToAdd": [],
                "scopesToSuppress": [],
            },
        }
        if TokenKind.ID in merged.claims:
            details["idTokenGeneration"] = {"claimsToAddOrOverride": merged.claims[TokenKind.ID], "claimsToSuppress": []}
        return {**event, "response": {"claimsAndScopeOverrideDetails": details}}

    def refusal(self, event: Mapping[str, Any], error: ClaimflowError) -> Any:
        """Cognito fails the sign-in when the trigger raises, and shows the message."""
        raise error
