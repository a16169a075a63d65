"""Claims hooks: identity stacks that sign their own tokens and ask claimflow's workflows for
claims. ``base`` says what a hook is, ``roster`` lists every one (the one list the issuer,
the tools and the docs read), and each stack is one module here: ``cognito`` (a Lambda event),
``hydra``, ``zitadel``, ``okta``, ``entra``, ``supabase`` and ``generic`` (HTTP, at the issuer's
URL through ``endpoint``, each call authenticated first by its stack's own scheme), with
``limits`` for the reply bounds a stack sets.
"""

from claimflow.issuer.hooks.base import ClaimsHook, HttpClaimsHook, customize, reserved_by
from claimflow.issuer.hooks.roster import EVENT_HOOKS, HTTP_HOOKS, HookSpec, find_event_hook, http_hook, http_hooks

__all__ = [
    "EVENT_HOOKS",
    "HTTP_HOOKS",
    "ClaimsHook",
    "HookSpec",
    "HttpClaimsHook",
    "customize",
    "find_event_hook",
    "http_hook",
    "http_hooks",
    "reserved_by",
]
