"""Zitadel Actions v2: a ``restCall`` target on the ``preaccesstoken`` and ``preuserinfo``
functions, from Zitadel's source (``proto/zitadel/action/v2``, ``internal/api/oidc/userinfo.go``
``ContextInfo``/``ContextInfoResponse``, ``pkg/actions/signing.go``) and docs
https://zitadel.com/docs/guides/integrate/actions/usage.

Zitadel POSTs ``{"function": ".../preaccesstoken", "userinfo", "user", "org", ...}`` signed
with ``ZITADEL-Signature: t=<s>,v1=<HMAC-SHA256(signing key, "<t>.<body>")>``. Claims come back
as ``{"append_claims": [{"key", "value"}]}`` (a key already set is not overwritten; keys under
``urn:zitadel:iam`` are dropped, so they are reserved here); a denial as a 2xx with
``forwardedStatusCode: 403`` and the reason, which Zitadel forwards to the caller; any non-2xx
is a failed call. The context carries no OAuth client, so workflows see client ``zitadel`` and
the organization's id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claimflow.errors import ClaimflowError, ContractError
from claimflow.issuer.hooks.authentication import Signature
from claimflow.issuer.hooks.base import HookAnswer, denial_or_failure, object_at
from claimflow.issuer.policy import Merged
from claimflow.issuer.request import TokenRequest
from claimflow.tokens import TokenKind
from claimflow.triggers import WorkflowTrigger

__all__ = ["ZITADEL_CLIENT", "ZitadelAction"]

ZITADEL_CLIENT = "zitadel"
_STANDARD = frozenset(
    {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "azp", "client_id", "scope", "auth_time", "nonce", "amr", "acr"}
)


class ZitadelAction:
    name = "Zitadel"
    route = "zitadel"
    budget_ms = 5000
    locked_claims = _STANDARD
    reserved_namespaces: tuple[str, ...] = ("urn:zitadel:iam",)

    def __init__(self, *, domain: str) -> None:
        self.domain = domain
        self.authentication = Signature("ZITADEL-Signature", refuse_replays=False)  # as Zitadel's own SDK verifies

    def recognises(self, event: Any) -> bool:
        return isinstance(event, Mapping) and str(event.get("function", "")).endswith(("preaccesstoken", "preuserinfo"))

    def token_request(self, event: Mapping[str, Any]) -> TokenRequest:
        if not self.recognises(event):
            raise ContractError("a Zitadel action call names function .../preaccesstoken or .../preuserinfo")
        user, userinfo = object_at(event, "user", where="user"), object_at(event, "userinfo", where="userinfo")
        subject = str(user.get("id") or userinfo.get("sub") or "")
        if not subject:
            raise ContractError("the Zitadel action call has neither user.id nor userinfo.sub")
        organization = str(object_at(event, "org", where="org").get("id") or "") or None
        id_token = str(event["function"]).endswith("preuserinfo")
        return TokenRequest(
            trigger=WorkflowTrigger.UserTokenGeneration,
            client_id=ZITADEL_CLIENT,
            audience=(ZITADEL_CLIENT,),
            domain=self.domain,
            scope=("openid",) if id_token else (),
            subject=subject,
            organization=organization,
        )

    def reply(self, event: Mapping[str, Any], request: TokenRequest, merged: Merged) -> HookAnswer:
        token = TokenKind.ID if str(event["function"]).endswith("preuserinfo") else TokenKind.ACCESS
        claims = merged.claims.get(token, {})
        return 200, {"append_claims": [{"key": key, "value": value} for key, value in claims.items()]}

    def refusal(self, event: Mapping[str, Any], error: ClaimflowError) -> HookAnswer:
        denied, text = denial_or_failure(error)
        if denied:  # Zitadel forwards a 4xx it is told of to the caller
            return 200, {"forwardedStatusCode": 403, "forwardedErrorMessage": text}
        return 500, {"error": error.error_code, "error_description": text}
