"""Amazon Cognito's Pre Token Generation trigger (event versions 2 and 3), served by the
issuer Lambda: Cognito's event becomes the seed-shaped event, the same workflows run through
the same runner and rules, and their claims come back as ``claimsAndScopeOverrideDetails``.

Cognito signs the tokens, so nothing is minted here; its locked claims are reserved. A
denial or a ``stop`` failure raises, which fails the sign-in with that message. Cognito waits
at most 5 seconds for the trigger, so the budget is capped below that.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from claimflow.errors import ContractError
from claimflow.issuer.request import TokenRequest
from claimflow.issuer.service import WorkflowRunner
from claimflow.settings import TokenKind, WorkflowTrigger

__all__ = ["COGNITO_BUDGET_MS", "COGNITO_LOCKED_CLAIMS", "is_cognito_event", "pre_token_generation"]

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


def is_cognito_event(event: Any) -> bool:
    return isinstance(event, Mapping) and str(event.get("triggerSource", "")).startswith("TokenGeneration_")


def _audience_from_scopes(scopes: list[str], client_id: str) -> list[str]:
    """Cognito names resource servers only through their scopes (``identifier/scope``)."""
    servers = sorted({s.rsplit("/", 1)[0] for s in scopes if "/" in s})
    return servers or [client_id]


def _seed_event(event: Mapping[str, Any]) -> tuple[WorkflowTrigger, dict[str, Any], str, list[str], list[str]]:
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
    audience = _audience_from_scopes(scopes, client_id)
    if source == _M2M_SOURCE:
        if version != "3":
            raise ContractError("client-credentials tokens need the V3_0 trigger event")
        seed = {
            "request": {"auth": {"audience": audience, "scope": scopes}},
            "context": {
                "domains": {"kindeDomain": domain},
                "workflow": {"trigger": WorkflowTrigger.M2MTokenGeneration.value},
                "application": {"clientId": client_id},
            },
        }
        return WorkflowTrigger.M2MTokenGeneration, seed, client_id, audience, scopes
    if source not in _USER_SOURCES:
        raise ContractError(f"Cognito trigger source {source!r} is not a token generation source claimflow handles")
    subject = str((request.get("userAttributes") or {}).get("sub") or "")
    if not subject:
        raise ContractError("the Cognito event has no request.userAttributes.sub")
    seed = {
        "request": {"auth": {"audience": audience}},
        "context": {
            "auth": {"origin": "refresh_token_request" if source == "TokenGeneration_RefreshTokens" else "authorization_request"},
            "user": {"id": subject},
            "domains": {"kindeDomain": domain},
            "workflow": {"trigger": WorkflowTrigger.UserTokenGeneration.value},
            "application": {"clientId": client_id},
        },
    }
    return WorkflowTrigger.UserTokenGeneration, seed, client_id, audience, scopes


def pre_token_generation(
    runner: WorkflowRunner, event: Mapping[str, Any], *, budget_ms: int = COGNITO_BUDGET_MS
) -> dict[str, Any]:
    """Cognito's event in, the same event with ``response.claimsAndScopeOverrideDetails`` out."""
    deadline = time.monotonic() + min(budget_ms, COGNITO_BUDGET_MS) / 1000
    trigger, seed, client_id, audience, scopes = _seed_event(event)
    user = trigger is WorkflowTrigger.UserTokenGeneration
    request = TokenRequest(
        trigger=trigger,
        event=seed,
        client_id=client_id,
        audience=tuple(audience),
        scope=tuple(dict.fromkeys([*scopes, "openid"])) if user else tuple(scopes),  # Cognito always issues the ID token
        subject=seed["context"]["user"]["id"] if user else None,
    )
    locked = dict.fromkeys(COGNITO_LOCKED_CLAIMS)
    merged = runner.customize(request, minted={token: locked for token in request.tokens}, deadline=deadline)
    for token, claims in merged.claims.items():
        namespaced = sorted(name for name in claims if name.startswith("cognito:"))
        if namespaced:
            raise ContractError(
                f"Cognito reserves the cognito: namespace; the {token.value} may not carry {', '.join(namespaced)}"
            )
    access = merged.claims[TokenKind.M2M if not user else TokenKind.ACCESS]
    details: dict[str, Any] = {
        "accessTokenGeneration": {
            "claimsToAddOrOverride": access,
            "claimsToSuppress": [],
            "scopesToAdd": [],
            "scopesToSuppress": [],
        },
    }
    if user:
        details["idTokenGeneration"] = {"claimsToAddOrOverride": merged.claims[TokenKind.ID], "claimsToSuppress": []}
    return {**event, "response": {"claimsAndScopeOverrideDetails": details}}
