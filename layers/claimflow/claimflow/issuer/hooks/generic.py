"""The generic claims hook, for any identity stack that can POST JSON: the body is a claimflow
token request (contract ``claimflow.token-request/v1``: trigger, subject, client_id, audience,
scope, organization, current claims), signed like Zitadel's calls
(``X-Claimflow-Signature: t=<s>,v1=<HMAC-SHA256(secret, "<t>.<body>")>``); a signature is good
once, so each call carries its own ``correlation_id``. The answer is
``{"contract": "claimflow.claims-hook-reply/v1", "claims": {"access_token": {...},
"id_token": {...}}, "workflows": [...]}``, a 403 ``access_denied`` with the reason when a
workflow denies, or a 5xx OAuth error when one fails. Nothing is signed: the caller signs its
own tokens. ``examples/oidc_provider`` calls it from node-oidc-provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claimflow.errors import ClaimflowError
from claimflow.issuer.config import IssuerConfig
from claimflow.issuer.hooks.authentication import Signature
from claimflow.issuer.hooks.base import HookAnswer, denial_or_failure
from claimflow.issuer.policy import Merged
from claimflow.issuer.request import TokenRequest, parse_token_request
from claimflow.wire.contracts import TOKEN_REQUEST

__all__ = ["CLAIMS_HOOK_REPLY", "GenericClaimsHook"]

CLAIMS_HOOK_REPLY = "claimflow.claims-hook-reply/v1"
_STANDARD = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "azp", "client_id", "scope", "scp", "auth_time", "nonce"})


class GenericClaimsHook:
    name = "claims hook"
    route = "generic"
    budget_ms = 5000
    locked_claims = _STANDARD
    reserved_namespaces: tuple[str, ...] = ()

    def __init__(self, *, config: IssuerConfig) -> None:
        self.config = config
        self.authentication = Signature("X-Claimflow-Signature")

    def recognises(self, event: Any) -> bool:
        return isinstance(event, Mapping) and event.get("contract") == TOKEN_REQUEST

    def token_request(self, event: Mapping[str, Any]) -> TokenRequest:
        return parse_token_request(event, self.config)

    def reply(self, event: Mapping[str, Any], request: TokenRequest, merged: Merged) -> HookAnswer:
        claims = {kind.value: merged.claims[kind] for kind in request.tokens}
        return 200, {"contract": CLAIMS_HOOK_REPLY, "claims": claims, "workflows": merged.report}

    def refusal(self, event: Mapping[str, Any], error: ClaimflowError) -> HookAnswer:
        denied, text = denial_or_failure(error)
        if denied:
            return 403, {"error": "access_denied", "error_description": text}
        status = 400 if error.error_code == "invalid_request" else 503 if error.error_code == "temporarily_unavailable" else 500
        return status, {"error": error.error_code, "error_description": text}
