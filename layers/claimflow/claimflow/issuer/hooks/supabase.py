"""Supabase Auth's custom access token hook, over HTTP, from Supabase's published docs:
https://supabase.com/docs/guides/auth/auth-hooks/custom-access-token-hook (inputs ``user_id``,
``claims``, ``authentication_method``; output ``{"claims": {...}}``; the required claims) and
https://supabase.com/docs/guides/auth/auth-hooks (HTTP hooks signed with Standard Webhooks,
the ``v1,whsec_...`` secret, the error object, the timeouts), and the Standard Webhooks
specification (https://www.standardwebhooks.com, ``spec/standard-webhooks.md``).

Supabase POSTs for every access token it mints (refreshes included), signed with Standard
Webhooks: ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (``v1,<base64
HMAC-SHA256 of "<id>.<timestamp>.<body>">``), verified here by the Standard Webhooks library
(``standardwebhooks``), whose window is five minutes either way. The secret at
``/claimflow/<stage>/hooks/supabase/secret`` is the one Supabase shows, ``v1,whsec_<base64>``;
during a rotation, two joined by ``|`` (Supabase's own format) are both accepted.

The answer is the **whole** claims object (it replaces the token's claims): Supabase's claims
come back unchanged (the required ``iss aud exp iat sub role aal session_id email phone
is_anonymous``, and ``amr``, ``jti``, ``nbf``, ``client_id``, ``scope``, all locked) with the
workflows' claims beside them; ``app_metadata``/``user_metadata`` reach workflows as current
claims they may replace. ``role`` is the Postgres role PostgREST switches to, so it stays
Supabase's: put a role of your own in another claim (``user_role``) and read it in your RLS
policies. A denial is Supabase's error object, ``{"error": {"http_code": 403, "message":
reason}}``, which the client gets as that status and message; a ``stop`` failure the same with
500 (503 for ``temporarily_unavailable``). Supabase allows 20 KB of reply in its docs (checked
here) and 5 s for all attempts together: the budget is 4.5 s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claimflow.claims import RESERVED_CLAIMS
from claimflow.errors import ClaimflowError, ContractError
from claimflow.issuer.errors import HookAuthenticationError
from claimflow.issuer.hooks.base import HookAnswer, denial_or_failure
from claimflow.issuer.hooks.limits import json_size, over_limit
from claimflow.issuer.hooks.replay import SingleUse
from claimflow.issuer.policy import Merged
from claimflow.issuer.request import SignIn, TokenRequest
from claimflow.tokens import TokenKind
from claimflow.triggers import WorkflowTrigger

__all__ = ["SUPABASE_LOCKED_CLAIMS", "SUPABASE_MAX_REPLY_BYTES", "SupabaseAccessTokenHook", "SupabaseWebhookSignature"]

SUPABASE_CLIENT = "supabase"
SUPABASE_MAX_REPLY_BYTES = 20 * 1024
#: Required by Supabase's schema (kept in every reply) and the JWT claims it mints itself.
SUPABASE_LOCKED_CLAIMS = frozenset(
    {"iss", "aud", "exp", "iat", "sub", "role", "aal", "session_id", "email", "phone", "is_anonymous"}
    | {"amr", "jti", "nbf", "client_id", "scope"}
)
_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
_MAX_HEADER_CHARS = 2048


#: The Standard Webhooks library's timestamp window (``webhooks.py``: five minutes either way).
_TOLERANCE_SECONDS = 5 * 60


class SupabaseWebhookSignature:
    """Standard Webhooks verification, by the scheme's own library. A call is good once: the
    scheme's ``webhook-id`` names it (Supabase retries with a new one), so a replay of a
    captured call is refused in every container while its timestamp is still acceptable."""

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> SingleUse:
        from standardwebhooks import Webhook, WebhookVerificationError
        from standardwebhooks.webhooks import EmptyWebhookSecretError

        lowered = {k.lower(): v for k, v in headers.items() if k.lower() in _HEADERS}
        missing = [name for name in _HEADERS if not lowered.get(name)]
        if missing:
            raise HookAuthenticationError(f"missing {', '.join(missing)} (Standard Webhooks headers)")
        if any(len(value) > _MAX_HEADER_CHARS for value in lowered.values()):
            raise HookAuthenticationError(f"a Standard Webhooks header is over {_MAX_HEADER_CHARS} characters")
        # Supabase joins one signature per secret with ", "; the library reads entries apart on spaces.
        lowered["webhook-signature"] = " ".join(part.rstrip(",") for part in lowered["webhook-signature"].split())
        problem = "the supabase hook has no secret"
        for one in (part.strip() for part in secret.split("|") if part.strip()):
            try:
                # The library takes "whsec_<base64>"; Supabase's "v1," prefix would decode to a wrong key.
                webhook = Webhook(one.removeprefix("v1,"))
            except (EmptyWebhookSecretError, ValueError):
                raise HookAuthenticationError("the supabase hook's secret is not v1,whsec_<base64>") from None
            try:
                webhook.verify(body, lowered, json_parse=False)
                return SingleUse(
                    key=f"supabase:{lowered['webhook-id']}", until=int(lowered["webhook-timestamp"]) + _TOLERANCE_SECONDS
                )
            except WebhookVerificationError as error:  # missing or bad headers, outside the window, no match
                problem = str(error)
            except ValueError:  # an entry that is not "v1,<base64>", a body that is not UTF-8
                problem = "a webhook-signature entry is not v1,<base64>, or the body is not UTF-8"
        raise HookAuthenticationError(f"Standard Webhooks signature refused: {problem}")


class SupabaseAccessTokenHook:
    name = "Supabase"
    route = "supabase"
    budget_ms = 4500  # Supabase gives all attempts together 5 s
    locked_claims = SUPABASE_LOCKED_CLAIMS
    reserved_namespaces: tuple[str, ...] = ()

    def __init__(self, *, domain: str) -> None:
        self.domain = domain
        self.authentication = SupabaseWebhookSignature()

    def recognises(self, event: Any) -> bool:
        return isinstance(event, Mapping) and isinstance(event.get("claims"), Mapping) and "user_id" in event

    def token_request(self, event: Mapping[str, Any]) -> TokenRequest:
        if not self.recognises(event):
            raise ContractError("a Supabase custom access token hook call carries user_id and claims")
        claims = event["claims"]
        subject = str(event.get("user_id") or claims.get("sub") or "")
        if not subject:
            raise ContractError("the Supabase call has no user_id")
        client_id = str(claims.get("client_id") or SUPABASE_CLIENT)
        aud = claims.get("aud")
        audience = (aud,) if isinstance(aud, str) else tuple(str(a) for a in aud or ()) or (client_id,)
        method = str(event.get("authentication_method") or "")
        current = {k: v for k, v in claims.items() if k not in self.locked_claims and k not in RESERVED_CLAIMS[TokenKind.ACCESS]}
        return TokenRequest(
            trigger=WorkflowTrigger.UserTokenGeneration,
            client_id=client_id,
            audience=audience,
            domain=str(claims.get("iss") or self.domain),
            scope=tuple(str(claims.get("scope") or "").split()),
            subject=subject,
            claims={TokenKind.ACCESS.value: current},
            sign_in=SignIn(
                ip=(event.get("metadata") or {}).get("ip_address"),
                auth={"origin": "refresh_token_request" if method == "token_refresh" else "authorization_request"},
            ),
        )

    def reply(self, event: Mapping[str, Any], request: TokenRequest, merged: Merged) -> HookAnswer:
        kept = {k: v for k, v in event["claims"].items() if k in self.locked_claims or k in RESERVED_CLAIMS[TokenKind.ACCESS]}
        body = {"claims": {**kept, **merged.claims[TokenKind.ACCESS]}}
        error = over_limit(self.name, "the hook reply", json_size(body), SUPABASE_MAX_REPLY_BYTES, merged)
        return self.refusal(event, error) if error else (200, body)

    def refusal(self, event: Mapping[str, Any], error: ClaimflowError) -> HookAnswer:
        denied, text = denial_or_failure(error)
        # Supabase forwards an error object's status and message; any non-2xx would lose the message.
        status = (
            403
            if denied
            else 503
            if error.error_code == "temporarily_unavailable"
            else 400
            if error.error_code == "invalid_request"
            else 500
        )
        return 200, {"error": {"http_code": status, "message": text or error.error_code}}
