"""The client an identity stack uses to ask the issuer for tokens (the "mint" integration).

It invokes the issuer Lambda once per token request (retrying only a throttled invoke or a
connection that could not be opened, never a timed-out one, so workflows never run twice for
one request), returns a typed ``TokenResponse``, and raises ``IssuerRefusedError`` carrying the
OAuth ``error`` / ``error_description`` for the token endpoint to pass on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from claimflow.errors import InvalidTokenRequestError, IssuerRefusedError, IssuerUnavailableError, LambdaInvokeError
from claimflow.infra.lambda_api import LambdaInvokeClient
from claimflow.wire.contracts import TOKEN_REQUEST

__all__ = [
    "InvalidTokenRequestError",
    "IssuerClient",
    "IssuerRefusedError",
    "IssuerUnavailableError",
    "TokenResponse",
    "encode_request",
    "token_request",
]


@dataclass(frozen=True)
class TokenResponse:
    access_token: str
    token_type: str
    expires_in: int
    scope: str = ""
    id_token: str | None = None
    workflows: list[dict[str, Any]] = field(default_factory=list)

    def oauth_body(self) -> dict[str, Any]:
        """The body an OAuth 2.0 token endpoint returns (RFC 6749 §5.1)."""
        body: dict[str, Any] = {"access_token": self.access_token, "token_type": self.token_type, "expires_in": self.expires_in}
        if self.scope:
            body["scope"] = self.scope
        if self.id_token:
            body["id_token"] = self.id_token
        return body


def token_request(
    *,
    trigger: str,
    client_id: str,
    audience: Sequence[str],
    subject: str | None = None,
    scope: Sequence[str] = (),
    organization: str | None = None,
    nonce: str | None = None,
    auth_time: int | None = None,
    claims: Mapping[str, Mapping[str, Any]] | None = None,
    correlation_id: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    sign_in: Mapping[str, Any] | None = None,
    identity_id: str | None = None,
) -> dict[str, Any]:
    """Build a token request (contract v1) from what the identity stack decided.

    ``sign_in`` is the seed's ``context.auth`` (``origin``, ``connectionId``,
    ``isExistingSession``). The issuer derives the rest of the workflows' event from the fields.
    """
    request: dict[str, Any] = {
        "contract": TOKEN_REQUEST,
        "trigger": trigger,
        "client_id": client_id,
        "audience": list(audience),
        "scope": list(scope),
    }
    optional = {
        "subject": subject,
        "organization": organization,
        "nonce": nonce,
        "auth_time": auth_time,
        "claims": claims,
        "correlation_id": correlation_id,
    }
    request.update({k: v for k, v in optional.items() if v is not None})
    facts: dict[str, Any] = {}
    request_facts = {k: v for k, v in {"ip": ip, "userAgent": user_agent}.items() if v is not None}
    if request_facts:
        facts["request"] = request_facts
    context_facts: dict[str, Any] = {}
    if sign_in:
        context_facts["auth"] = dict(sign_in)
    if identity_id:
        context_facts["user"] = {"identityId": identity_id}
    if context_facts:
        facts["context"] = context_facts
    if facts:
        request["event"] = facts
    return request


def encode_request(request: Mapping[str, Any]) -> bytes:
    """The request as the JSON the issuer reads. Python writes NaN and Infinity, which JSON has
    no form for (Lambda's runtime refuses to unmarshal them): refused here, naming the fix."""
    try:
        return json.dumps(request, separators=(",", ":"), allow_nan=False).encode()
    except ValueError as error:
        raise InvalidTokenRequestError(f"the token request is not JSON: {error} (NaN, Infinity); send finite numbers") from None
    except (TypeError, RecursionError) as error:
        raise InvalidTokenRequestError(f"the token request is not JSON: {type(error).__name__}: {error}") from None


class IssuerClient:
    """Invokes the issuer Lambda. ``timeout`` bounds a whole request: it should exceed the
    issuer function's own timeout (template: 25 s), so a slow issuance is answered, not retried."""

    def __init__(self, function_name: str, *, invoker: LambdaInvokeClient | None = None, timeout: float = 30.0) -> None:
        self.function_name = function_name
        self._invoker = invoker
        self.timeout = timeout

    @property
    def invoker(self) -> LambdaInvokeClient:
        if self._invoker is None:
            self._invoker = LambdaInvokeClient()
        return self._invoker

    def request_tokens(self, request: Mapping[str, Any]) -> TokenResponse:
        """The issuer's tokens; ``InvalidTokenRequestError`` (``invalid_request``) before sending
        a request that is not JSON (NaN, Infinity), ``IssuerRefusedError`` for the issuer's own
        refusals, ``IssuerUnavailableError`` when it cannot be reached or crashed."""
        payload = encode_request(request)
        try:
            reply = self.invoker.invoke(self.function_name, payload, deadline=time.monotonic() + self.timeout)
            body = json.loads(reply.payload)
        except (LambdaInvokeError, ValueError) as error:
            raise IssuerUnavailableError(f"the issuer {self.function_name} could not be invoked: {error}") from error
        if reply.function_error or not isinstance(body, dict):
            raise IssuerUnavailableError(f"the issuer {self.function_name} failed: {str(body)[:512]}")
        if "error" in body:
            raise IssuerRefusedError(str(body["error"]), str(body.get("error_description", "")), body.get("workflows", []))
        return TokenResponse(
            access_token=body["access_token"],
            token_type=body["token_type"],
            expires_in=int(body["expires_in"]),
            scope=body.get("scope", ""),
            id_token=body.get("id_token"),
            workflows=body.get("workflows", []),
        )
