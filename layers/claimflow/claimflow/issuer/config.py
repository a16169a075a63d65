"""What an issuer mints and how long it waits (``IssuerConfig``), which workflows it runs,
and where a deployed one reads both: the template's parameters, as environment variables
(named in ``claimflow.environment``), read when the issuer is built, never at import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from claimflow.environment import Env, env_int, env_list, env_str
from claimflow.errors import ConfigurationError
from claimflow.issuer.registry import WorkflowRegistry
from claimflow.tokens import TOKENS, TokenKind

__all__ = ["DEFAULT_LIFETIME_SECONDS", "IssuerConfig", "config_from_environment", "registry_from_environment"]

DEFAULT_LIFETIME_SECONDS = 3600


def _default_lifetimes() -> Mapping[TokenKind, int]:
    return MappingProxyType(dict.fromkeys(TOKENS, DEFAULT_LIFETIME_SECONDS))


@dataclass(frozen=True, kw_only=True)
class IssuerConfig:
    """What an issuer mints and how long it waits; from template parameters in AWS."""

    issuer_url: str
    lifetimes: Mapping[TokenKind, int] = field(default_factory=_default_lifetimes)  # seconds, per token kind
    allowed_audiences: frozenset[str] | None = None  # None: any audience the identity stack names
    issuance_budget_ms: int = 3000
    max_token_bytes: int = 8192
    signing_algorithm: str = "RS256"  # of the keys the stack creates; the active key may lag until rotated

    def __post_init__(self) -> None:
        if not self.issuer_url.startswith(("https://", "http://")):
            raise ConfigurationError(f"issuer_url {self.issuer_url!r} must be an http(s) URL")
        object.__setattr__(self, "issuer_url", self.issuer_url.rstrip("/"))
        object.__setattr__(self, "lifetimes", MappingProxyType({**_default_lifetimes(), **self.lifetimes}))
        for kind, seconds in self.lifetimes.items():
            if seconds <= 0:
                raise ConfigurationError(f"issuer config: the {kind.value} lifetime must be positive")
        for name in ("issuance_budget_ms", "max_token_bytes"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"issuer config {name} must be positive")


def config_from_environment(environ: Mapping[str, str] | None = None) -> IssuerConfig:
    environ = os.environ if environ is None else environ
    issuer_url = env_str(Env.ISSUER_URL, "", environ) or env_str(Env.JWKS_FUNCTION_URL, "", environ)
    if not issuer_url:
        raise ConfigurationError(
            f"neither {Env.ISSUER_URL} nor {Env.JWKS_FUNCTION_URL} is set: the issuer needs the URL it puts in 'iss'"
        )
    audiences = env_list(Env.ALLOWED_AUDIENCES, "", environ)
    return IssuerConfig(
        issuer_url=issuer_url,
        lifetimes={kind: env_int(spec.lifetime_setting, 3600, environ) for kind, spec in TOKENS.items()},
        allowed_audiences=frozenset(audiences) if audiences else None,
        issuance_budget_ms=env_int(Env.ISSUANCE_BUDGET_MS, 3000, environ),
        max_token_bytes=env_int(Env.MAX_TOKEN_BYTES, 8192, environ),
        signing_algorithm=env_str(Env.SIGNING_ALGORITHM, "RS256", environ),
    )


def registry_from_environment(environ: Mapping[str, str] | None = None) -> WorkflowRegistry:
    """The workflows this stage runs: the registry less its ``DisabledWorkflows``."""
    registry = WorkflowRegistry.from_json(env_str(Env.WORKFLOWS, "[]", environ))
    return registry.without(env_list(Env.DISABLED_WORKFLOWS, "", environ))
