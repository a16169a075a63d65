"""The token kinds, in one table: what each is called on the wire and in the seed, which
binding unlocks it, its ``typ``, the claims the issuer mints and reserves in it, its lifetime
setting and the triggers that produce it. Everything else (settings, claims, the issuer, the
Cognito adapter, the tools) reads this table; a new token kind is one row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from types import MappingProxyType

from claimflow.environment import Env
from claimflow.triggers import WorkflowTrigger

__all__ = [
    "SEED_PROHIBITED_EVERYWHERE",
    "TOKENS",
    "ClaimSource",
    "TokenKind",
    "TokenSpec",
    "lead_token",
    "token_for_binding",
    "tokens_for",
]


class TokenKind(StrEnum):
    """The tokens a workflow can add claims to; values are the wire names."""

    ACCESS = "access_token"
    ID = "id_token"
    M2M = "m2m_token"


class ClaimSource(StrEnum):
    """Where the issuer takes the value of a claim it mints (``claimflow.issuer.request``)."""

    ISSUER = "issuer"  # the issuer's URL
    SUBJECT = "subject"  # the user the identity stack authenticated
    CLIENT = "client"  # the OAuth client
    AUDIENCE = "audience"  # the resource servers the token is for
    ISSUED_AT = "issued_at"
    EXPIRES_AT = "expires_at"  # issued_at + the token's lifetime
    TOKEN_ID = "token_id"  # a fresh jti
    SCOPE = "scope"  # granted scopes, space-separated
    AUTH_TIME = "auth_time"  # when the user authenticated (only when the identity stack says)
    NONCE = "nonce"  # the authorization request's nonce (only when given)
    ORGANIZATION = "organization"  # the organization's code (only when given)
    CLIENT_CREDENTIALS = "client_credentials"  # the grant type, constant


#: The seed's prohibited claims of every token.
SEED_PROHIBITED_EVERYWHERE = frozenset({"azp", "exp", "iat", "iss", "nbf", "sid", "sub", "act", "aud"})


@dataclass(frozen=True, kw_only=True)
class TokenSpec:
    """One token kind. ``minted`` is ordered: claims appear in tokens in this order."""

    kind: TokenKind
    binding: str  # the seed's binding id that unlocks its custom claims
    function: str  # the Python function a workflow calls for its custom claims
    seed_function: str  # the seed's (TypeScript) name of that function
    typ: str  # the JWT header's typ (RFC 9068 §2.1 for access tokens)
    reply_field: str  # where the issuer's reply carries it
    prohibited: frozenset[str]  # the seed's prohibited claims for this token
    minted: Mapping[str, ClaimSource]  # claims the issuer owns, and where each comes from
    overridable: frozenset[str]  # minted only when the request carries them; workflows may set them otherwise
    lifetime_setting: str  # the environment variable holding its lifetime in seconds
    triggers: frozenset[WorkflowTrigger]
    leads: bool  # the token the reply's access_token carries for its triggers
    requires_scope: str | None = None  # issued only when this scope was granted (openid for ID tokens)
    protocol_reserved: frozenset[str] = frozenset()  # defined by the protocol, not minted here, never faked

    @property
    def reserved(self) -> frozenset[str]:
        """Names no workflow may set: the seed's prohibited list plus the claims the issuer owns."""
        return self.prohibited | self.protocol_reserved | (frozenset(self.minted) - self.overridable)


_ACCESS_MINTED = {
    "iss": ClaimSource.ISSUER,
    "sub": ClaimSource.SUBJECT,
    "aud": ClaimSource.AUDIENCE,
    "iat": ClaimSource.ISSUED_AT,
    "exp": ClaimSource.EXPIRES_AT,
    "jti": ClaimSource.TOKEN_ID,
    "client_id": ClaimSource.CLIENT,
    "scope": ClaimSource.SCOPE,
    "auth_time": ClaimSource.AUTH_TIME,
    "org_code": ClaimSource.ORGANIZATION,
}

TOKENS: Mapping[TokenKind, TokenSpec] = MappingProxyType(
    {
        TokenKind.ACCESS: TokenSpec(
            kind=TokenKind.ACCESS,
            binding="kinde.accessToken",
            function="access_token_custom_claims",
            seed_function="accessTokenCustomClaims",
            typ="at+jwt",
            reply_field="access_token",
            prohibited=SEED_PROHIBITED_EVERYWHERE | {"jti", "scp"},
            minted=MappingProxyType(_ACCESS_MINTED),
            overridable=frozenset({"org_code"}),
            lifetime_setting=Env.ACCESS_TOKEN_TTL,
            triggers=frozenset({WorkflowTrigger.UserTokenGeneration}),
            leads=True,
        ),
        TokenKind.ID: TokenSpec(
            kind=TokenKind.ID,
            binding="kinde.idToken",
            function="id_token_custom_claims",
            seed_function="idTokenCustomClaims",
            typ="JWT",
            reply_field="id_token",
            prohibited=SEED_PROHIBITED_EVERYWHERE | {"auth_time", "jti", "updated_at", "rat"},
            minted=MappingProxyType(
                {
                    "iss": ClaimSource.ISSUER,
                    "sub": ClaimSource.SUBJECT,
                    "aud": ClaimSource.CLIENT,  # OIDC Core §2: the ID token is for the client
                    "azp": ClaimSource.CLIENT,
                    "iat": ClaimSource.ISSUED_AT,
                    "exp": ClaimSource.EXPIRES_AT,
                    "jti": ClaimSource.TOKEN_ID,
                    "auth_time": ClaimSource.AUTH_TIME,
                    "nonce": ClaimSource.NONCE,
                    "org_code": ClaimSource.ORGANIZATION,
                }
            ),
            overridable=frozenset({"org_code"}),
            lifetime_setting=Env.ID_TOKEN_TTL,
            triggers=frozenset({WorkflowTrigger.UserTokenGeneration}),
            leads=False,
            requires_scope="openid",
            protocol_reserved=frozenset({"at_hash", "c_hash"}),  # OIDC Core §3.1.3.6, §3.3.2.11
        ),
        TokenKind.M2M: TokenSpec(
            kind=TokenKind.M2M,
            binding="kinde.m2mToken",
            function="m2m_token_claims",
            seed_function="m2mTokenClaims",
            typ="at+jwt",
            reply_field="access_token",
            prohibited=SEED_PROHIBITED_EVERYWHERE | {"gty", "jti", "scp"},
            minted=MappingProxyType(
                {
                    "iss": ClaimSource.ISSUER,
                    "sub": ClaimSource.CLIENT,  # RFC 9068 §2.2: the client is the subject of its own grant
                    "aud": ClaimSource.AUDIENCE,
                    "iat": ClaimSource.ISSUED_AT,
                    "exp": ClaimSource.EXPIRES_AT,
                    "jti": ClaimSource.TOKEN_ID,
                    "client_id": ClaimSource.CLIENT,
                    "scope": ClaimSource.SCOPE,
                    "gty": ClaimSource.CLIENT_CREDENTIALS,
                    "org_code": ClaimSource.ORGANIZATION,
                }
            ),
            overridable=frozenset({"org_code"}),
            lifetime_setting=Env.M2M_TOKEN_TTL,
            triggers=frozenset({WorkflowTrigger.M2MTokenGeneration}),
            leads=True,
        ),
    }
)


@cache  # asked on every token; the table never changes
def tokens_for(trigger: WorkflowTrigger) -> tuple[TokenKind, ...]:
    """Every token a trigger can produce, in table order (the lead first)."""
    return tuple(spec.kind for spec in TOKENS.values() if trigger in spec.triggers)


@cache
def lead_token(trigger: WorkflowTrigger) -> TokenKind:
    """The token a trigger's reply carries as ``access_token``."""
    return next(spec.kind for spec in TOKENS.values() if trigger in spec.triggers and spec.leads)


def token_for_binding(binding: str) -> TokenKind | None:
    return next((spec.kind for spec in TOKENS.values() if spec.binding == binding), None)
