"""The token request (contract v1) parsed into a ``TokenRequest``, and the standard claims
minted from it: RFC 9068 access tokens, OIDC ID tokens and client-credentials (M2M) tokens,
each from its row of ``claimflow.tokens.TOKENS``.

The event workflows see is derived from the request's own fields (``seed_event``), so it can
never disagree with the token. Pure: the clock and the ``jti`` source are injected.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from claimflow.issuer.config import IssuerConfig
from claimflow.issuer.errors import TokenRequestError
from claimflow.tokens import TOKENS, ClaimSource, TokenKind, lead_token, tokens_for
from claimflow.triggers import WorkflowTrigger
from claimflow.wire.contracts import validate
from claimflow.wire.seed_event import DERIVED_FIELDS, seed_event

__all__ = ["SignIn", "TokenRequest", "mint_standard_claims", "new_token_id", "parse_token_request"]

Clock = Callable[[], float]
JtiSource = Callable[[], str]


def new_token_id() -> str:
    return os.urandom(16).hex()  # 128 random bits (RFC 9068 §2.2.1 asks for no collisions)


@dataclass(frozen=True)
class SignIn:
    """Facts of the sign-in that only the identity stack knows, passed to workflows as they are."""

    ip: str | None = None
    user_agent: str | None = None
    auth: Mapping[str, Any] | None = None  # the seed's context.auth: origin, connectionId, isExistingSession
    identity_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class TokenRequest:
    """A validated token request. ``event`` (what workflows see) is derived from its fields."""

    trigger: WorkflowTrigger
    client_id: str
    audience: tuple[str, ...]
    domain: str  # the seed's context.domains.kindeDomain: the issuer's own base URL
    scope: tuple[str, ...] = ()
    subject: str | None = None
    organization: str | None = None
    nonce: str | None = None
    auth_time: int | None = None
    claims: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    correlation_id: str | None = None
    sign_in: SignIn = field(default_factory=SignIn)

    @cached_property
    def event(self) -> dict[str, Any]:
        return seed_event(
            self.trigger,
            client_id=self.client_id,
            audience=self.audience,
            domain=self.domain,
            subject=self.subject,
            scope=self.scope,
            organization=self.organization,
            ip=self.sign_in.ip,
            user_agent=self.sign_in.user_agent,
            auth=self.sign_in.auth,
            identity_id=self.sign_in.identity_id,
        )

    @cached_property
    def tokens(self) -> tuple[TokenKind, ...]:
        """The tokens this request produces, lead first (an ID token only with its scope)."""
        return tuple(
            kind
            for kind in tokens_for(self.trigger)
            if TOKENS[kind].requires_scope is None or TOKENS[kind].requires_scope in self.scope
        )

    @property
    def lead(self) -> TokenKind:
        return lead_token(self.trigger)


def _derived_field_given(event: Any) -> str | None:
    """The first event field the request sent that the issuer derives itself."""
    if not isinstance(event, Mapping):
        return None
    for path in DERIVED_FIELDS:
        node: Any = event
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None:
            return path
    return None


def parse_token_request(document: Any, config: IssuerConfig) -> TokenRequest:
    """Validate against the contract schema, then check the fields make sense together."""
    try:
        doc = validate("token-request.v1", document, error=TokenRequestError)
    except TokenRequestError:
        # The schema refuses derived fields in ``event``; say which one and where it comes from.
        derived = _derived_field_given(document.get("event") if isinstance(document, Mapping) else None)
        if derived is not None:
            raise TokenRequestError(
                f"event.{derived} is derived from the request's {DERIVED_FIELDS[derived]}; leave it out of event"
            ) from None
        raise
    trigger = WorkflowTrigger(doc["trigger"])
    audience = tuple(doc["audience"])
    if config.allowed_audiences is not None:
        unknown = sorted(set(audience) - config.allowed_audiences)
        if unknown:
            raise TokenRequestError(f"audience {', '.join(unknown)} is not one this issuer serves")
    extra = set(doc["claims"]) - {kind.value for kind in tokens_for(trigger)} if "claims" in doc else None
    if extra:
        raise TokenRequestError(f"claims for {', '.join(sorted(extra))} do not apply to trigger {trigger.value}")
    user = trigger is WorkflowTrigger.UserTokenGeneration
    if "nonce" in doc and not user:
        raise TokenRequestError("nonce applies only to user:tokens_generation (ID tokens)")
    event = doc.get("event", {})
    request_facts, context_facts = event.get("request", {}), event.get("context", {})
    if not user and ("userAgent" in request_facts or context_facts):
        raise TokenRequestError("event.request.userAgent and event.context apply only to user:tokens_generation")
    return TokenRequest(
        trigger=trigger,
        client_id=doc["client_id"],
        audience=audience,
        domain=config.issuer_url,
        scope=tuple(doc.get("scope", ())),
        subject=doc.get("subject"),
        organization=doc.get("organization"),
        nonce=doc.get("nonce"),
        auth_time=doc.get("auth_time"),
        claims=doc.get("claims", {}),
        correlation_id=doc.get("correlation_id"),
        sign_in=SignIn(
            ip=request_facts.get("ip"),
            user_agent=request_facts.get("userAgent"),
            auth=context_facts.get("auth"),
            identity_id=context_facts.get("user", {}).get("identityId"),
        ),
    )


def _aud(audience: tuple[str, ...]) -> str | list[str]:
    return audience[0] if len(audience) == 1 else list(audience)


def mint_standard_claims(
    request: TokenRequest,
    config: IssuerConfig,
    *,
    clock: Clock = time.time,
    new_jti: JtiSource = new_token_id,
) -> dict[TokenKind, dict[str, Any]]:
    """The claims the issuer owns, per token, from each token's row of the table; a source
    with nothing to give (no auth_time, no nonce, no organization, no scope) mints nothing."""
    now = int(clock())
    values: dict[ClaimSource, Any] = {
        ClaimSource.ISSUER: config.issuer_url,
        ClaimSource.SUBJECT: request.subject,
        ClaimSource.CLIENT: request.client_id,
        ClaimSource.AUDIENCE: _aud(request.audience),
        ClaimSource.ISSUED_AT: now,
        ClaimSource.SCOPE: " ".join(request.scope) or None,
        ClaimSource.AUTH_TIME: request.auth_time,
        ClaimSource.NONCE: request.nonce,
        ClaimSource.ORGANIZATION: request.organization,
        ClaimSource.CLIENT_CREDENTIALS: "client_credentials",
    }
    minted: dict[TokenKind, dict[str, Any]] = {}
    for kind in request.tokens:  # what differs per token: its lifetime and its id
        values[ClaimSource.EXPIRES_AT] = now + config.lifetimes[kind]
        values[ClaimSource.TOKEN_ID] = new_jti()
        minted[kind] = {claim: values[source] for claim, source in TOKENS[kind].minted.items() if values[source] is not None}
    return minted
