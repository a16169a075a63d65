"""The one roster of claims hooks: every identity stack claimflow's workflows serve without
minting the token themselves. The issuer's Lambda, ``claimflow preview``, ``claimflow check``,
``make dev``'s banner, the docs and the tests of the template's ``ClaimsHooks`` parameter all
read it; nothing else lists hooks.

A new identity stack is one module beside this one and one row below (its factory imports the
module, so a container loads only the hooks it answers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from claimflow.issuer.config import IssuerConfig
    from claimflow.issuer.hooks.base import ClaimsHook, HttpClaimsHook

__all__ = ["EVENT_HOOKS", "HTTP_HOOKS", "HookSpec", "find_event_hook", "http_hook", "http_hooks"]


@dataclass(frozen=True, kw_only=True)
class HookSpec:
    """One identity stack's claims hook, as every reader needs it."""

    #: ``/hooks/<route>`` on the issuer's URL, the ``ClaimsHooks`` value and the secret's SSM path
    #: segment; None for a hook Lambda invokes the issuer for directly (Cognito's trigger).
    route: str | None
    stack: str  # the identity stack, as its vendor names it
    summary: str  # what the stack calls and how it authenticates
    docs: str  # the stack's published request and response documentation
    sample: str | None  # the sample event in events/ (sam local invoke -e, preview, tests), if any
    make: Callable[[IssuerConfig], Any]  # the hook, from the issuer's configuration

    def hook(self, config: IssuerConfig) -> ClaimsHook:
        built: ClaimsHook = self.make(config)
        return built


def _cognito(config: IssuerConfig) -> ClaimsHook:
    from claimflow.issuer.hooks.cognito import CognitoPreTokenGeneration

    return CognitoPreTokenGeneration()


def _hydra(config: IssuerConfig) -> HttpClaimsHook:
    from claimflow.issuer.hooks.hydra import HydraTokenHook

    return HydraTokenHook(domain=config.issuer_url)


def _zitadel(config: IssuerConfig) -> HttpClaimsHook:
    from claimflow.issuer.hooks.zitadel import ZitadelAction

    return ZitadelAction(domain=config.issuer_url)


def _okta(config: IssuerConfig) -> HttpClaimsHook:
    from claimflow.issuer.hooks.okta import OktaTokenHook

    return OktaTokenHook(domain=config.issuer_url)


def _entra(config: IssuerConfig) -> HttpClaimsHook:
    from claimflow.issuer.hooks.entra import EntraCustomClaimsProvider

    return EntraCustomClaimsProvider(domain=config.issuer_url)


def _supabase(config: IssuerConfig) -> HttpClaimsHook:
    from claimflow.issuer.hooks.supabase import SupabaseAccessTokenHook

    return SupabaseAccessTokenHook(domain=config.issuer_url)


def _generic(config: IssuerConfig) -> HttpClaimsHook:
    from claimflow.issuer.hooks.generic import GenericClaimsHook

    return GenericClaimsHook(config=config)


#: Hooks whose stack invokes the issuer Lambda with its own event (no URL, no ClaimsHooks entry).
EVENT_HOOKS: tuple[HookSpec, ...] = (
    HookSpec(
        route=None,
        stack="Amazon Cognito",
        summary="the user pool's Pre Token Generation trigger (V2_0, V3_0 for M2M) invokes the issuer; IAM authenticates it",
        docs="https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-pre-token-generation.html",
        sample="events/cognito.v2-user-authentication.json",
        make=_cognito,
    ),
)

#: Hooks a stack calls over HTTP at ``/hooks/<route>``, in the order they are documented.
HTTP_HOOKS: Mapping[str, HookSpec] = MappingProxyType(
    {
        spec.route: spec
        for spec in (
            HookSpec(
                route="hydra",
                stack="Ory Hydra",
                summary="oauth2.token_hook POSTs each grant's session; an API key header authenticates it",
                docs="https://www.ory.sh/docs/hydra/guides/claims-at-refresh",
                sample="events/hooks.hydra-token-hook.json",
                make=_hydra,
            ),
            HookSpec(
                route="zitadel",
                stack="Zitadel",
                summary="Actions v2 restCall on preaccesstoken/preuserinfo; ZITADEL-Signature (HMAC-SHA256) authenticates it",
                docs="https://zitadel.com/docs/guides/integrate/actions/usage",
                sample="events/hooks.zitadel-preaccesstoken.json",
                make=_zitadel,
            ),
            HookSpec(
                route="okta",
                stack="Okta",
                summary="a token inline hook (com.okta.oauth2.tokens.transform) on a custom authorization server's "
                "access policy rule; the header and secret the admin sets authenticate it",
                docs="https://developer.okta.com/docs/api/openapi/okta-management/management/tags/inlinehook/webhooks/createtokeninlinehook",
                sample="events/hooks.okta-token-transform.json",
                make=_okta,
            ),
            HookSpec(
                route="entra",
                stack="Microsoft Entra ID",
                summary="a custom claims provider (custom authentication extension, OnTokenIssuanceStart); "
                "a bearer token Entra issued (RS256, the tenant's keys, azp 99045fe1-…) authenticates it",
                docs="https://learn.microsoft.com/en-us/entra/identity-platform/custom-claims-provider-reference",
                sample="events/hooks.entra-token-issuance-start.json",
                make=_entra,
            ),
            HookSpec(
                route="supabase",
                stack="Supabase Auth",
                summary="the custom access token hook over HTTP; Standard Webhooks signatures (v1,whsec_…) authenticate it",
                docs="https://supabase.com/docs/guides/auth/auth-hooks/custom-access-token-hook",
                sample="events/hooks.supabase-custom-access-token.json",
                make=_supabase,
            ),
            HookSpec(
                route="generic",
                stack="any stack that POSTs JSON",
                summary="a claimflow token request; X-Claimflow-Signature (HMAC-SHA256, good once) authenticates it",
                docs="claimflow's own contract: layers/claimflow/claimflow/wire/schemas/token-request.v1.json",
                sample=None,
                make=_generic,
            ),
        )
        if spec.route is not None
    }
)


def http_hooks(config: IssuerConfig, *, enabled: Any = None) -> dict[str, HttpClaimsHook]:
    """The HTTP hooks by route (only those in ``enabled``, when given), built for ``config``."""
    return {route: spec.make(config) for route, spec in HTTP_HOOKS.items() if enabled is None or route in enabled}


def http_hook(route: str, config: IssuerConfig) -> HttpClaimsHook:
    """The HTTP hook at ``/hooks/<route>``; a ``KeyError`` naming the routes there are, if none."""
    if route not in HTTP_HOOKS:
        raise KeyError(f"no claims hook /hooks/{route}; there are {', '.join(f'/hooks/{r}' for r in HTTP_HOOKS)}")
    hook: HttpClaimsHook = HTTP_HOOKS[route].make(config)
    return hook


@cache
def _event_hooks() -> tuple[ClaimsHook, ...]:
    """Event hooks sign nothing and read no issuer configuration: built once, for any issuer."""
    from claimflow.issuer.config import IssuerConfig

    unused = IssuerConfig(issuer_url="https://event-hooks.invalid")
    return tuple(spec.hook(unused) for spec in EVENT_HOOKS)


def find_event_hook(event: Any) -> ClaimsHook | None:
    """The event hook whose stack sent ``event`` (a Lambda event, not an HTTP call), if any."""
    return next((hook for hook in _event_hooks() if hook.recognises(event)), None)
