"""Okta's token inline hook (``com.okta.oauth2.tokens.transform``), from Okta's published
reference: https://developer.okta.com/docs/api/openapi/okta-management/management/tags/inlinehook/webhooks/createtokeninlinehook
(the request's ``data.context``/``identity``/``access``, the ``commands`` and ``error`` replies,
the 3 s timeout and fail-open behaviour), the reserved claims at
https://support.okta.com/help/s/article/list-of-reserved-claim-names, and the SDK's
``TokenHookResponse`` (https://developer.okta.com/okta-sdk-java/apidocs/com/okta/sdk/resource/model/TokenHookResponse.html:
the reply is under 256 KB).

Okta POSTs the tokens a custom authorization server is about to mint: ``data.context``
(request, protocol with the client, session, user), ``data.access.claims`` and, when an ID
token is minted, ``data.identity.claims``. It authenticates with the header the admin names and
the secret the admin sets (Okta sends the secret verbatim), compared here in constant time.
Claims go back as commands, for the requested tokens only: ``com.okta.access.patch`` /
``com.okta.identity.patch`` with ``add`` on ``/claims/<name>`` (``remove`` for a claim Okta
set that a ``resetClaims`` dropped). A client-credentials grant (no user) runs the M2M trigger.

Okta fails **open**: on a timeout, any status but 200 or a command it cannot apply it issues
the token unmodified. Only an ``error`` object stops it (the client gets ``server_error`` with
the ``errorSummary``). So a denial *and* a ``stop`` failure are answered as an ``error`` object,
the one answer that keeps "no token" true, and the budget is 2.5 s, inside Okta's 3 s, so a late
workflow is failed here under its failure policy rather than dropped by Okta's timeout.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from claimflow.claims import RESERVED_CLAIMS
from claimflow.errors import ClaimflowError, ContractError
from claimflow.issuer.errors import HookAuthenticationError
from claimflow.issuer.hooks.base import HookAnswer, denial_or_failure
from claimflow.issuer.hooks.limits import json_size, over_limit
from claimflow.issuer.policy import Merged
from claimflow.issuer.request import SignIn, TokenRequest
from claimflow.tokens import TokenKind
from claimflow.triggers import WorkflowTrigger

__all__ = [
    "OKTA_EVENT_TYPE",
    "OKTA_LOCKED_CLAIMS",
    "OKTA_MAX_REPLY_BYTES",
    "OKTA_TIMEOUT_MS",
    "OktaHeaderSecret",
    "OktaTokenHook",
]

OKTA_EVENT_TYPE = "com.okta.oauth2.tokens.transform"
OKTA_TIMEOUT_MS = 3000  # Okta waits 3 s, then issues the token unmodified
OKTA_MAX_REPLY_BYTES = 256 * 1024 - 1  # "must be less than 256 KB"
#: Okta's reserved claims (access token, ID token, and both), which a hook may neither add nor change.
#: One set for both tokens: a name Okta keeps in either is kept from workflows in both.
# fmt: off
OKTA_LOCKED_CLAIMS = frozenset({
    "acr", "amr", "as_uri", "cid", "groups", "rpt", "rsi", "uid", "username", "active", "aid", "aud", "app_id",
    "app_type", "at_hash", "auth_time", "client_id", "client_ip", "client_req_id", "client_type",
    "client_user_agent", "cnf", "c_hash", "device_compliance", "device_id", "device_known", "device_managed",
    "device_name", "device_trust", "did", "dst", "group", "hotk", "idp", "idp_iss", "mac_key", "may_act", "nonce",
    "oid", "okta_emailVerified", "okta_lastUpdated", "orig", "permissions", "purpose", "pwd_exp_days",
    "pwd_exp_time", "rid", "role", "scope", "scopes", "sid", "sub", "term", "user_ip", "iss", "jti", "token_type",
    "ver", "exp", "iat", "nbf", "scp",
})
# fmt: on
_PATCH = {
    TokenKind.ACCESS: "com.okta.access.patch",
    TokenKind.M2M: "com.okta.access.patch",
    TokenKind.ID: "com.okta.identity.patch",
}


@dataclass(frozen=True)
class OktaHeaderSecret:
    """Okta's *HTTP headers* authentication: the secret, verbatim, in the header the admin named
    ("Authentication field"; ``channel.config.authScheme {type: HEADER, key, value}``)."""

    header: str = "Authorization"

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        value = next((v for k, v in headers.items() if k.lower() == self.header.lower()), None)
        if value is None:
            raise HookAuthenticationError(f"missing {self.header} header (Okta's inline hook authentication field)")
        # Digests first: equal lengths, so the comparison's time says nothing about the secret's length.
        if not hmac.compare_digest(hashlib.sha256(value.encode()).digest(), hashlib.sha256(secret.encode()).digest()):
            raise HookAuthenticationError(f"wrong {self.header} (not the inline hook's authentication secret)")


def _pointer(name: str) -> str:
    """``/claims/<name>`` as a JSON Pointer (RFC 6901: ``~`` → ``~0``, ``/`` → ``~1``)."""
    return "/claims/" + name.replace("~", "~0").replace("/", "~1")


class OktaTokenHook:
    name = "Okta"
    route = "okta"
    budget_ms = OKTA_TIMEOUT_MS - 500  # answer before Okta gives up and issues the token unmodified
    locked_claims = OKTA_LOCKED_CLAIMS
    reserved_namespaces: tuple[str, ...] = ()

    def __init__(self, *, domain: str, header: str = "Authorization") -> None:
        self.domain = domain
        self.authentication = OktaHeaderSecret(header)

    def recognises(self, event: Any) -> bool:
        return (
            isinstance(event, Mapping)
            and event.get("eventType") == OKTA_EVENT_TYPE
            and isinstance(event.get("data"), Mapping)
            and isinstance(event["data"].get("access"), Mapping)
        )

    def _current(self, token: TokenKind, claims: Any) -> dict[str, Any]:
        """The claims Okta is about to mint that a workflow may change: the custom ones."""
        if not isinstance(claims, Mapping):
            return {}
        return {k: v for k, v in claims.items() if k not in self.locked_claims and k not in RESERVED_CLAIMS[token]}

    def token_request(self, event: Mapping[str, Any]) -> TokenRequest:
        if not self.recognises(event):
            raise ContractError(f"an Okta token inline hook call has eventType {OKTA_EVENT_TYPE} and data.access")
        data = event["data"]
        context = data.get("context") or {}
        protocol = context.get("protocol") or {}
        access = data["access"]
        access_claims = access.get("claims") or {}
        client_id = str((protocol.get("client") or {}).get("id") or access_claims.get("cid") or "")
        if not client_id:
            raise ContractError("the Okta call names no data.context.protocol.client.id")
        requested = protocol.get("request") or {}
        scopes = tuple(access.get("scopes") or ()) or tuple(str(requested.get("scope") or "").split())
        aud = access_claims.get("aud")
        audience = (aud,) if isinstance(aud, str) else tuple(str(a) for a in aud or ()) or (client_id,)
        domain = str((protocol.get("issuer") or {}).get("uri") or self.domain)
        user = context.get("user") or {}
        if requested.get("grant_type") == "client_credentials" or not user.get("id"):
            return TokenRequest(
                trigger=WorkflowTrigger.M2MTokenGeneration,
                client_id=client_id,
                audience=audience,
                domain=domain,
                scope=tuple(s for s in scopes if s != "openid"),
                claims={TokenKind.M2M.value: self._current(TokenKind.M2M, access_claims)},
            )
        identity = data.get("identity")
        # Okta sends data.identity exactly when it mints an ID token: the ID token is patched then only.
        scope = tuple(s for s in scopes if s != "openid") + (("openid",) if isinstance(identity, Mapping) else ())
        claims = {TokenKind.ACCESS.value: self._current(TokenKind.ACCESS, access_claims)}
        if isinstance(identity, Mapping):
            claims[TokenKind.ID.value] = self._current(TokenKind.ID, identity.get("claims"))
        return TokenRequest(
            trigger=WorkflowTrigger.UserTokenGeneration,
            client_id=client_id,
            audience=audience,
            domain=domain,
            scope=scope,
            subject=str(user["id"]),
            claims=claims,
            sign_in=SignIn(ip=(context.get("request") or {}).get("ipAddress")),
        )

    def reply(self, event: Mapping[str, Any], request: TokenRequest, merged: Merged) -> HookAnswer:
        commands = []
        for token in request.tokens:
            before, after = request.claims.get(token.value, {}), merged.claims.get(token, {})
            operations: list[dict[str, Any]] = [
                {"op": "add", "path": _pointer(name), "value": value}
                for name, value in after.items()
                if name not in before or before[name] != value
            ]
            operations += [{"op": "remove", "path": _pointer(name)} for name in before if name not in after]
            if operations:
                commands.append({"type": _PATCH[token], "value": operations})
        debug = {"workflows": ", ".join(f"{run['id']} {run['outcome']} {run['duration_ms']:.0f} ms" for run in merged.report)}
        body = {"commands": commands, "debugContext": debug}
        error = over_limit(self.name, "the inline hook reply", json_size(body), OKTA_MAX_REPLY_BYTES, merged)
        return self.refusal(event, error) if error else (200, body)

    def refusal(self, event: Mapping[str, Any], error: ClaimflowError) -> HookAnswer:
        denied, text = denial_or_failure(error)
        # Okta issues the token unmodified on anything but an error object, so a failure is one too.
        summary = text if denied else f"{error.error_code}: {text}"
        return 200, {"error": {"errorSummary": summary}}
