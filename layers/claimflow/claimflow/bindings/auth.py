"""The ``kinde.auth`` binding: ``deny_access``."""

from __future__ import annotations

from collections.abc import Generator

from claimflow.binding_table import needed_for
from claimflow.errors import ClaimflowError
from claimflow.runtime import current_invocation

__all__ = ["Denied", "deny_access"]

MAX_REASON_CHARS = 1024


class Denied:
    """What ``deny_access`` returns: nothing to read, but awaitable (``await denyAccess(...)``
    ports from TypeScript unchanged); the denial is recorded when it is called."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield from ()

    def __repr__(self) -> str:
        return "Denied()"


def deny_access(reason: str) -> Denied:
    """Refuse the token: the request fails with ``access_denied`` and this reason (binding ``kinde.auth``)."""
    invocation = current_invocation()
    invocation.require(*needed_for("kinde.auth"))
    if not isinstance(reason, str) or not reason.strip():
        raise ClaimflowError("deny_access needs a reason the user can be shown")
    invocation.denial = reason[:MAX_REASON_CHARS]
    return Denied()
