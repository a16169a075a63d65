"""Claims hooks: identity stacks that sign their own tokens and ask claimflow's workflows for
claims (Cognito's pre token generation trigger first). Each stack is one module over the
``ClaimsHook`` protocol; the issuer's entry point asks each registered hook whether it
recognises the event, and ``customize`` runs the trigger's workflows for it under the same
runner, rules and budget as a minted token.

A new identity stack is one module here and one line in ``HOOKS``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from claimflow.claims import Reserved
from claimflow.errors import ClaimflowError
from claimflow.issuer.policy import Merged
from claimflow.issuer.request import TokenRequest
from claimflow.issuer.service import WorkflowRunner
from claimflow.tokens import TokenKind

__all__ = ["ClaimsHook", "customize", "find_hook", "registered_hooks", "reserved_by"]


class ClaimsHook(Protocol):
    """One identity stack's claims hook."""

    name: str
    #: The longest the stack waits for the hook, in ms (the issuance budget is capped to it).
    budget_ms: int
    #: Claims the stack sets itself and will not let a hook change.
    locked_claims: frozenset[str]
    #: Name prefixes the stack keeps for itself (e.g. ``cognito:``).
    reserved_namespaces: tuple[str, ...]

    def recognises(self, event: Any) -> bool:
        """Whether ``event`` is this stack's hook call."""
        ...

    def token_request(self, event: Mapping[str, Any]) -> TokenRequest:
        """The stack's event as a token request: trigger, user, client, scopes, audience."""
        ...

    def reply(self, event: Mapping[str, Any], request: TokenRequest, merged: Merged) -> Any:
        """The merged custom claims in the stack's reply shape."""
        ...

    def refusal(self, event: Mapping[str, Any], error: ClaimflowError) -> Any:
        """A denial or failure in the stack's shape (or raised, where that is how it fails a sign-in)."""
        ...


def registered_hooks() -> tuple[ClaimsHook, ...]:
    from claimflow.issuer.hooks.cognito import CognitoPreTokenGeneration

    return (CognitoPreTokenGeneration(),)


def find_hook(event: Any, hooks: tuple[ClaimsHook, ...] | None = None) -> ClaimsHook | None:
    return next((hook for hook in hooks or registered_hooks() if hook.recognises(event)), None)


def reserved_by(hook: ClaimsHook, tokens: Iterable[TokenKind]) -> Reserved:
    """What ``hook``'s stack keeps for itself in each token: its locked claims and namespaces."""
    return Reserved(
        claims=dict.fromkeys(tokens, hook.locked_claims), prefixes=hook.reserved_namespaces, owner=f"{hook.name} sets it"
    )


def customize(hook: ClaimsHook, runner: WorkflowRunner, event: Mapping[str, Any], *, budget_ms: int) -> Any:
    """Run the trigger's workflows for ``hook``'s event and answer in its shape."""
    deadline = time.monotonic() + min(budget_ms, hook.budget_ms) / 1000
    try:
        request = hook.token_request(event)
        merged = runner.customize(request, reserved=reserved_by(hook, request.tokens), deadline=deadline)
    except ClaimflowError as error:
        return hook.refusal(event, error)
    return hook.reply(event, request, merged)
