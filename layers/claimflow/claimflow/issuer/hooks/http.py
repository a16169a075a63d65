"""Claims hooks over HTTP: identity stacks that sign their own tokens and POST for extra claims.
Each adapter (``hydra``, ``zitadel``, ``generic``) reads its stack's request into a token
request, and answers in that stack's shape; ``claimflow.issuer.hooks.endpoint`` authenticates
the call first and runs the workflows through the same runner, rules and budget as a minted
token, signing nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from claimflow.errors import ClaimflowError
from claimflow.issuer.errors import AccessDeniedError
from claimflow.issuer.hooks import ClaimsHook
from claimflow.issuer.hooks.authentication import ApiKey, Signature

__all__ = ["HookAnswer", "HttpClaimsHook", "denial_or_failure"]

#: An HTTP answer: status and JSON body (None: no body).
HookAnswer = tuple[int, dict[str, Any] | None]


class HttpClaimsHook(ClaimsHook, Protocol):
    """A claims hook a stack calls over HTTP, at ``/hooks/<route>``."""

    route: str

    @property
    def authentication(self) -> Signature | ApiKey: ...

    def reply(self, event: Mapping[str, Any], request: Any, merged: Any) -> HookAnswer: ...

    def refusal(self, event: Mapping[str, Any], error: ClaimflowError) -> HookAnswer: ...


def denial_or_failure(error: ClaimflowError) -> tuple[bool, str]:
    """(whether a workflow denied access, the text a caller may show: no internals)."""
    denied = isinstance(error, AccessDeniedError)
    return denied, error.reason if isinstance(error, AccessDeniedError) else error.description
