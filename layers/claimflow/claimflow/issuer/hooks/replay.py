"""A signed hook call is good once: the port behind "have we seen this call before?".

An authenticator that can tell one call from another answers a ``SingleUse``: the call's key
and the moment after which its timestamp is refused anyway, so the store may forget it then
(never earlier: a store that forgets by arrival time accepts a call signed ahead of the clock a
second time). Every container of a stage must share the store, or a second container, or the
same one after a cold start, accepts the same call again: the real one is a DynamoDB table
(``claimflow.issuer.hooks.dynamodb_replays``); ``InMemoryReplayStore`` is for unit tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from claimflow.issuer.errors import ReplayStoreError

__all__ = ["InMemoryReplayStore", "ReplayStore", "SingleUse"]


@dataclass(frozen=True)
class SingleUse:
    """What makes one authenticated call good once."""

    #: Names the call and nothing else (e.g. the signature the caller's secret made over its
    #: timestamp and body); not a secret: a used key cannot be used again.
    key: str
    #: Unix seconds after which the call is refused as stale, so it may be forgotten.
    until: float


class ReplayStore(Protocol):
    """Used calls, shared by every container of a stage."""

    def first_use(self, key: str, *, until: float) -> bool:
        """Record ``key`` as used until ``until`` (unix seconds): True the first time, False when it
        is already recorded (a replay). Raises ``ReplayStoreError`` when it cannot tell."""
        ...


@dataclass
class InMemoryReplayStore:
    """A replay store in a dict, for unit tests: one process only, so never the store of a
    deployed issuer. ``unreachable`` makes it fail as a store that cannot be reached."""

    clock: Callable[[], float] = time.time
    unreachable: bool = False
    used: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def first_use(self, key: str, *, until: float) -> bool:
        if self.unreachable:
            raise ReplayStoreError("replay store unreachable (InMemoryReplayStore.unreachable is set)")
        now = self.clock()
        with self._lock:
            self.used = {k: expiry for k, expiry in self.used.items() if expiry >= now}  # forgotten by signed time
            if key in self.used:
                return False
            self.used[key] = until
            return True
