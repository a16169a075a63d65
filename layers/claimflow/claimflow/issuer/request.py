"""The token request (contract v1) parsed and cross-checked, and the standard claims minted
from it: RFC 9068 access tokens, OIDC ID tokens and client-credentials (M2M) tokens.

Pure: the clock and the ``jti`` source are injected.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from claimflow.contract import validate
from claimflow.errors import ConfigurationError, TokenRequestError
from claimflow.settings import TRIGGER_TOKENS, TokenKind, WorkflowTrigger

__all__ = ["IssuerConfig", "TokenRequest", "mint_standard_claims", "parse_token_request"]

Clock = Callable[[], float]
JtiSource = Callable[[], str]


def _new_jti() -> str:
    return secrets.token_urlsafe(18)


@dataclass(frozen=True, kw_only=True)
class IssuerConfig:
    """What an issuer mints and how long it waits; from template parameters in AWS."""

    issuer_url: str
    access_token_ttl: int = 3600
    id_token_ttl: int = 3600
    m2m_token_ttl: int = 3600
    allowed_audiences: frozenset[str] | None = None  # None: any audience the identity stack names
    issuance_budget_ms: int = 3000
    max_token_bytes: int = 8192

    def __post_init__(self) -> None:
        if not self.issuer_url.startswith(("https://", "http://")):
            raise ConfigurationError(f"issuer_url {self.issuer_url!r} must be an http(s) URL")
        object.__setattr__(self, "issuer_url", self.issuer_url.rstrip("/"))
        for name in ("access_token_ttl", "id_token_ttl", "m2m_token_ttl", "issuance_budget_ms", "max_token_bytes"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"issuer config {name} must be positive")


@dataclass(frozen=True)
class TokenRequest:
    """A validated token request; ``raw`` is what workflows see of it (the event)."""

    trigger: WorkflowTrigger
    event: Mapping[str, Any]
    client_id: str
    audience: tuple[str, ...]
    scope: tuple[str, ...] = ()
    subject: str | None = None
    organization: str | None = None
    nonce: str | None = None
    auth_time: int | None = None
    claims: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    correlation_id: str | None = None

    @property
    def wants_id_token(self) -> bool:
        return self.trigger is WorkflowTrigger.UserTokenGeneration and "openid" in self.scope

    @property
    def tokens(self) -> tuple[TokenKind, ...]:
        """The tokens this request produces, in reply order."""
        if self.trigger is WorkflowTrigger.M2MTokenGeneration:
            return (TokenKind.M2M,)
        return (TokenKind.ACCESS, TokenKind.ID) if self.wants_id_token else (TokenKind.ACCESS,)


def parse_token_request(document: Any, config: IssuerConfig) -> TokenRequest:
    """Validate against the contract schema, then check the fields agree with each other."""
    doc = validate("token-request.v1", document, error=TokenRequestError)
    trigger = WorkflowTrigger(doc["trigger"])
    context = doc["event"]["context"]
    if context["application"]["clientId"] != doc["client_id"]:
        raise TokenRequestError("event.context.application.clientId must equal client_id")
    if trigger is WorkflowTrigger.UserTokenGeneration and context["user"]["id"] != doc["subject"]:
        raise TokenRequestError("event.context.user.id must equal subject")
    audience = tuple(doc["audience"])
    if config.allowed_audiences is not None:
        unknown = sorted(set(audience) - config.allowed_audiences)
        if unknown:
            raise TokenRequestError(f"audience {', '.join(unknown)} is not one this issuer serves")
    extra = set(doc.get("claims", {})) - {t.value for t in TRIGGER_TOKENS[trigger]}
    if extra:
        raise TokenRequestError(f"claims for {', '.join(sorted(extra))} do not apply to trigger {trigger.value}")
    if "nonce" in doc and trigger is not WorkflowTrigger.UserTokenGeneration:
        raise TokenRequestError("nonce applies only to user:tokens_generation (ID tokens)")
    return TokenRequest(
        trigger=trigger,
        event=doc["event"],
        client_id=doc["client_id"],
        audience=audience,
        scope=tuple(doc.get("scope", ())),
        subject=doc.get("subject"),
        organization=doc.get("organization"),
        nonce=doc.get("nonce"),
        auth_time=doc.get("auth_time"),
        claims=doc.get("claims", {}),
        correlation_id=doc.get("correlation_id"),
    )


def _aud(audience: tuple[str, ...]) -> str | list[str]:
    return audience[0] if len(audience) == 1 else list(audience)


def mint_standard_claims(
    request: TokenRequest,
    config: IssuerConfig,
    *,
    clock: Clock = time.time,
    new_jti: JtiSource = _new_jti,
) -> dict[TokenKind, dict[str, Any]]:
    """The claims the issuer owns, per token; workflows' custom claims never replace these."""
    now = int(clock())
    minted: dict[TokenKind, dict[str, Any]] = {}
    if request.trigger is WorkflowTrigger.M2MTokenGeneration:
        # RFC 9068 access token for the client-credentials grant: the client is the subject.
        minted[TokenKind.M2M] = {
            "iss": config.issuer_url,
            "sub": request.client_id,
            "aud": _aud(request.audience),
            "iat": now,
            "exp": now + config.m2m_token_ttl,
            "jti": new_jti(),
            "client_id": request.client_id,
            "scope": " ".join(request.scope),
            "gty": "client_credentials",
        }
        if request.organization:
            minted[TokenKind.M2M]["org_code"] = request.organization
        return minted
    assert request.subject is not None  # the schema requires it for user tokens
    access: dict[str, Any] = {
        "iss": config.issuer_url,
        "sub": request.subject,
        "aud": _aud(request.audience),
        "iat": now,
        "exp": now + config.access_token_ttl,
        "jti": new_jti(),
        "client_id": request.client_id,
        "scope": " ".join(request.scope),
    }
    if request.auth_time is not None:
        access["auth_time"] = request.auth_time
    if request.organization:
        access["org_code"] = request.organization
    minted[TokenKind.ACCESS] = access
    if request.wants_id_token:
        id_claims: dict[str, Any] = {
            "iss": config.issuer_url,
            "sub": request.subject,
            "aud": request.client_id,
            "azp": request.client_id,
            "iat": now,
            "exp": now + config.id_token_ttl,
            "jti": new_jti(),
            "auth_time": request.auth_time if request.auth_time is not None else now,
        }
        if request.nonce:
            id_claims["nonce"] = request.nonce
        if request.organization:
            id_claims["org_code"] = request.organization
        minted[TokenKind.ID] = id_claims
    return minted
