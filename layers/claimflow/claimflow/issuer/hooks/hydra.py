"""Ory Hydra's OAuth2 token hook (``oauth2.token_hook``), from Hydra's source at v26.2.0:
``oauth2/token_hook.go`` (``TokenHookRequest``, ``executeHookAndUpdateSession``) and
``oauth2/session.go``; docs: https://www.ory.sh/docs/hydra/guides/claims-at-refresh.

Hydra POSTs ``{"session": {...}, "request": {client_id, granted_scopes, granted_audience,
grant_types, ...}}`` for every grant, authenticated only by an API key header
(``auth: {type: api_key, config: {in: header, name, value}}``). A 200 with
``{"session": {"access_token": {...}, "id_token": {...}}}`` *replaces* the custom claims
(so the answer carries the ones consent set too); 403 becomes ``access_denied``; anything else
``server_error``. Hydra sets, and will not let a hook change, the JWT's standard claims
(``iss sub aud exp nbf iat jti client_id scp ext``; the ID token's ``nonce at_hash acr amr
c_hash rat auth_time`` too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claimflow.errors import ClaimflowError, ContractError
from claimflow.issuer.hooks.authentication import ApiKey
from claimflow.issuer.hooks.base import HookAnswer, denial_or_failure, object_at, strings_at
from claimflow.issuer.policy import Merged
from claimflow.issuer.request import TokenRequest
from claimflow.tokens import TokenKind
from claimflow.triggers import WorkflowTrigger

__all__ = ["HYDRA_LOCKED_CLAIMS", "HydraTokenHook"]

HYDRA_LOCKED_CLAIMS = frozenset(
    {
        "iss",
        "sub",
        "aud",
        "exp",
        "nbf",
        "iat",
        "jti",
        "client_id",
        "scp",
        "ext",
        "nonce",
        "at_hash",
        "acr",
        "amr",
        "c_hash",
        "rat",
        "auth_time",
    }
)


class HydraTokenHook:
    name = "Ory Hydra"
    route = "hydra"
    budget_ms = 5000  # Hydra waits 30 s per attempt; a sign-in should not
    locked_claims = HYDRA_LOCKED_CLAIMS
    reserved_namespaces: tuple[str, ...] = ()

    def __init__(self, *, domain: str, header: str = "X-API-Key") -> None:
        self.domain = domain
        self.authentication = ApiKey(header)

    def recognises(self, event: Any) -> bool:
        return (
            isinstance(event, Mapping) and isinstance(event.get("session"), Mapping) and isinstance(event.get("request"), Mapping)
        )

    def token_request(self, event: Mapping[str, Any]) -> TokenRequest:
        if not self.recognises(event):
            raise ContractError("a Hydra token hook call carries {session, request}")
        session, request = event["session"], event["request"]
        client_id = str(request.get("client_id") or session.get("client_id") or "")
        if not client_id:
            raise ContractError("the Hydra token hook call names no request.client_id")
        scopes = strings_at(request, "granted_scopes", where="request.granted_scopes")
        audience = strings_at(request, "granted_audience", where="request.granted_audience") or (client_id,)
        id_token = object_at(session, "id_token", where="session.id_token")
        base = {"access_token": dict(object_at(session, "extra", where="session.extra"))}
        if "client_credentials" in strings_at(request, "grant_types", where="request.grant_types"):
            return TokenRequest(
                trigger=WorkflowTrigger.M2MTokenGeneration,
                client_id=client_id,
                audience=audience,
                domain=self.domain,
                scope=scopes,
                claims={"m2m_token": base["access_token"]},
            )
        id_token_claims = object_at(id_token, "id_token_claims", where="session.id_token.id_token_claims")
        subject = str(id_token.get("subject") or id_token_claims.get("sub") or "")
        if not subject:
            raise ContractError("the Hydra token hook call has no session.id_token.subject")
        ext = dict(object_at(id_token_claims, "ext", where="session.id_token.id_token_claims.ext"))
        return TokenRequest(
            trigger=WorkflowTrigger.UserTokenGeneration,
            client_id=client_id,
            audience=audience,
            domain=self.domain,
            scope=scopes,
            subject=subject,
            claims={**base, **({"id_token": ext} if "openid" in scopes else {})},
        )

    def reply(self, event: Mapping[str, Any], request: TokenRequest, merged: Merged) -> HookAnswer:
        access = merged.claims[request.lead]
        return 200, {"session": {"access_token": access, "id_token": merged.claims.get(TokenKind.ID, {})}}

    def refusal(self, event: Mapping[str, Any], error: ClaimflowError) -> HookAnswer:
        denied, text = denial_or_failure(error)
        # Hydra maps 403 to access_denied and any other status to server_error; the body is for logs.
        return (
            (403, {"error": "access_denied", "error_description": text})
            if denied
            else (500, {"error": error.error_code, "error_description": text})
        )
