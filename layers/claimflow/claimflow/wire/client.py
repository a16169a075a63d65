"""The client an identity stack uses to ask the issuer for tokens.

It invokes the issuer Lambda with boto3 (retrying only throttling and service errors,
never a refused token), returns a typed ``TokenResponse``, and raises ``IssuerRefusedError``
carrying the OAuth ``error`` / ``error_description`` for the token endpoint to pass on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from claimflow.errors import ClaimflowError
from claimflow.infra.aws import aws_client
from claimflow.wire.contracts import TOKEN_REQUEST

if TYPE_CHECKING:
    from botocore.client import BaseClient

__all__ = ["IssuerClient", "IssuerRefusedError", "IssuerUnavailableError", "TokenResponse", "token_request"]


class IssuerRefusedError(ClaimflowError):
    """The issuer answered an OAuth error; ``error_code`` is it (instance attribute)."""

    def __init__(self, error: str, description: str, workflows: Sequence[Mapping[str, Any]] = ()) -> None:
        self.error_code = error  # type: ignore[misc]
        self.workflows = list(workflows)
        super().__init__(description)


class IssuerUnavailableError(ClaimflowError):
    """The issuer could not be reached or crashed; no token."""

    error_code = "temporarily_unavailable"


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


class IssuerClient:
    def __init__(
        self, function_name: str, *, client: BaseClient | None = None, max_attempts: int = 3, read_timeout: float = 25.0
    ) -> None:
        self.function_name = function_name
        self._client = client
        self._max_attempts = max_attempts
        self._read_timeout = read_timeout

    @property
    def client(self) -> BaseClient:
        if self._client is None:
            self._client = aws_client(
                "lambda", connect_timeout=2, read_timeout=self._read_timeout, max_attempts=self._max_attempts
            )
        return self._client

    def request_tokens(self, request: Mapping[str, Any]) -> TokenResponse:
        try:
            response = self.client.invoke(
                FunctionName=self.function_name, InvocationType="RequestResponse", Payload=json.dumps(request).encode()
            )
            body = json.loads(response["Payload"].read())
        except Exception as error:
            raise IssuerUnavailableError(
                f"the issuer {self.function_name} could not be invoked: {type(error).__name__}: {error}"
            ) from error
        if response.get("FunctionError") or not isinstance(body, dict):
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
