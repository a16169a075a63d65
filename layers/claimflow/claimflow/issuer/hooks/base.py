"""What every claims hook is: an identity stack that signs its own tokens and asks claimflow's
workflows for claims. ``ClaimsHook`` is one stack's request and reply shapes; ``HttpClaimsHook``
adds how a stack calling over HTTP proves a call is its own. ``customize`` runs the trigger's
workflows for a hook under the same runner, rules and budget as a minted token; what the stack
locks is reserved (``reserved_by``). Which hooks exist is ``claimflow.issuer.hooks.roster``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from claimflow.claims import Reserved
from claimflow.errors import ClaimflowError, ContractError
from claimflow.issuer.errors import AccessDeniedError
from claimflow.issuer.hooks.replay import SingleUse
from claimflow.issuer.policy import Merged
from claimflow.issuer.request import TokenRequest
from claimflow.issuer.service import WorkflowRunner
from claimflow.tokens import TokenKind

__all__ = [
    "Authenticator",
    "ClaimsHook",
    "HookAnswer",
    "HttpClaimsHook",
    "customize",
    "denial_or_failure",
    "object_at",
    "reserved_by",
    "strings_at",
]

#: An HTTP answer: status and JSON body (None: no body).
HookAnswer = tuple[int, dict[str, Any] | None]


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


class Authenticator(Protocol):
    """How a stack proves a call is its own (``claimflow.issuer.hooks.authentication``)."""

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> SingleUse | None:
        """Return if the call is authentic; raise ``HookAuthenticationError`` otherwise.

        Return a ``SingleUse`` (a key naming this call, and until when its proof is accepted)
        when the scheme can tell one call from another (a signature over a timestamp, a message
        id): the endpoint then refuses the key's second use in the replay store every container
        shares. Return None when every call looks alike (an API key) or the stack resends the
        same call on purpose."""
        ...


class HttpClaimsHook(ClaimsHook, Protocol):
    """A claims hook a stack calls over HTTP, at ``/hooks/<route>``."""

    route: str

    @property
    def authentication(self) -> Authenticator: ...

    def reply(self, event: Mapping[str, Any], request: Any, merged: Any) -> HookAnswer: ...

    def refusal(self, event: Mapping[str, Any], error: ClaimflowError) -> HookAnswer: ...


def object_at(document: Mapping[str, Any], name: str, *, where: str) -> Mapping[str, Any]:
    """``document[name]`` as a JSON object: {} when absent or null; ``ContractError`` naming
    ``where`` when it is anything else (a stack's document is read, never trusted to be shaped)."""
    value = document.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ContractError(f"{where} must be a JSON object, not {type(value).__name__}")
    return value


def strings_at(document: Mapping[str, Any], name: str, *, where: str) -> tuple[str, ...]:
    """``document[name]`` as a list of strings: () when absent or null; ``ContractError`` otherwise."""
    value = document.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ContractError(f"{where} must be a list of strings")
    return tuple(value)


def denial_or_failure(error: ClaimflowError) -> tuple[bool, str]:
    """(whether a workflow denied access, the text a caller may show: no internals)."""
    denied = isinstance(error, AccessDeniedError)
    return denied, error.reason if isinstance(error, AccessDeniedError) else error.description


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
