"""The parameter-store port: cached reads of parameters by path or by name.

Shaped like Powertools' ``BaseProvider``: ``ParameterStore`` owns caching and error wrapping;
each backend writes only ``_get_by_path`` and ``_get``. No AWS import here: the SSM backend
lives in ``claimflow.infra.ssm``.

The cache is stale-while-revalidate, because a login must never wait on a slow store that a
cached value can answer for:
- a fresh value is served from memory;
- once it expires, one caller starts a refresh (outside the lock, in its own thread) and waits
  for it at most ``stale_wait`` seconds (less if its deadline is nearer); every other caller is
  served the last good value at once;
- a refresh that fails or runs late leaves the last good value in place, and the next refresh
  waits ``failure_backoff`` seconds counted from the end of the failed one;
- with nothing cached, callers wait for the one load in flight until their deadline, then get
  a ``ParameterStoreError`` saying how long they waited.

Stale serving has a bound, because a cached secret outlives its rotation (a revoked hook secret
would be accepted for as long as SSM stays down): a value holding a secret stale for more than
``max_stale`` seconds (``MaxStaleSeconds``) is not served, nor one a caller's ``servable`` check
refuses (the key set's grace window). A refused value counts as none: callers wait for a refresh
until their deadline, then fail closed (``ParameterStoreError``: ``temporarily_unavailable``).
Plain values (public keys, settings) are still served stale. Each stale serve caused by a
failing store is reported to ``on_stale`` (the SSM adapter's: an EMF ``ServingStale`` count).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from claimflow.environment import Env, env_float
from claimflow.errors import ParameterStoreError

__all__ = [
    "DEFAULT_MAX_AGE_SECONDS",
    "DEFAULT_MAX_STALE_SECONDS",
    "InMemoryParameterStore",
    "Parameter",
    "ParameterStore",
    "ServableCheck",
]

DEFAULT_MAX_AGE_SECONDS = 60.0
#: How long past its TTL a cached secret may still be served while the store fails (MaxStaleSeconds).
DEFAULT_MAX_STALE_SECONDS = 300.0
#: A caller's own bound: ``(cached value, seconds since it was loaded)`` -> None, or why it may not be served.
ServableCheck = Callable[[Any, float], "str | None"]
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parameter:
    """One stored value; ``is_secret`` for SecureString. Its repr never shows a secret."""

    name: str
    value: str = field(repr=False)
    is_secret: bool = False

    def __repr__(self) -> str:
        shown = "'••••'" if self.is_secret else repr(self.value)
        return f"Parameter(name={self.name!r}, value={shown}, is_secret={self.is_secret})"


class _Refresh:
    """One load in flight; callers wait on ``done``."""

    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: ParameterStoreError | None = None


@dataclass
class _Entry:
    value: Any = None
    has_value: bool = False
    loaded_at: float = -math.inf
    fresh_until: float = -math.inf
    retry_after: float = -math.inf  # no refresh before this, after a failed one
    failing: bool = False  # the last refresh failed: serving the value now is serving stale
    refresh: _Refresh | None = None


def _holds_secret(value: Any) -> bool:
    if isinstance(value, Parameter):
        return value.is_secret
    return isinstance(value, Mapping) and any(isinstance(p, Parameter) and p.is_secret for p in value.values())


Key = tuple[str, str]


class ParameterStore(ABC):
    """Cached parameter reads. Subclasses implement ``_get_by_path``, ``_get`` and ``put`` only."""

    def __init__(
        self,
        *,
        max_age: float = DEFAULT_MAX_AGE_SECONDS,
        stale_wait: float = 0.25,
        failure_backoff: float = 5.0,
        max_entries: int = 1024,
        max_stale: float | None = None,
        on_stale: Callable[[str, float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``max_stale``: seconds past its TTL a value holding a secret may be served while the
        store fails (default: ``CLAIMFLOW_MAX_STALE_SECONDS``, else 300); ``on_stale(name,
        seconds_stale)``: told of each such serve."""
        self.max_age = max_age
        self.max_stale = env_float(Env.MAX_STALE_SECONDS, DEFAULT_MAX_STALE_SECONDS) if max_stale is None else max_stale
        self.on_stale = on_stale
        self.stale_wait = stale_wait
        self.failure_backoff = failure_backoff
        self.max_entries = max_entries
        self._clock = clock
        self._cache: OrderedDict[Key, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get_by_path(self, path: str, *, deadline: float | None = None) -> Mapping[str, Parameter]:
        """Parameters directly under ``path``, keyed by their last name segment.

        ``deadline`` (a ``time.monotonic()`` value) bounds how long this call may wait."""
        result: Mapping[str, Parameter] = self._cached(("path", path.rstrip("/")), self._get_by_path, deadline, None)
        return result

    def get(self, name: str, *, deadline: float | None = None, servable: ServableCheck | None = None) -> Parameter | None:
        """One parameter by its full name, or None when it does not exist. ``servable``: the
        caller's own bound on how old a cached value it accepts (see the module's docstring)."""
        result: Parameter | None = self._cached(("name", name), self._get, deadline, servable)
        return result

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    # --- the cache ---------------------------------------------------------------------------

    def _cached(self, key: Key, load: Callable[[str], Any], deadline: float | None, servable: ServableCheck | None) -> Any:
        refresh: _Refresh | None = None
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                entry = self._cache[key] = _Entry()
                while len(self._cache) > self.max_entries:
                    self._cache.popitem(last=False)
            self._cache.move_to_end(key)
            now = self._clock()
            refused = self._refusal(entry, now, servable) if entry.has_value else None
            usable = entry.has_value and refused is None
            if usable and now < entry.fresh_until:
                return entry.value
            # Backing off after a failure, or someone else is refreshing: serve the last good value.
            serve_now = usable and (now < entry.retry_after or entry.refresh is not None)
            if not serve_now:
                if not usable and now < entry.retry_after:
                    why = f" ({refused})" if refused else ""
                    raise ParameterStoreError(
                        f"the parameter store failed for {key[1]} moments ago; retrying after a back-off{why}"
                    )
                starts = entry.refresh is None
                if starts:
                    entry.refresh = _Refresh()
                refresh = entry.refresh
            value, failing, stale_since = entry.value, entry.failing, entry.fresh_until
        if refresh is None:
            if failing:
                self._served_stale(key[1], now - stale_since)
            return value

        wait = self._wait(deadline, has_stale=usable)
        if starts:
            if wait is None:  # nothing to serve instead and no deadline: load in this thread
                self._load(key, load, refresh)
            else:
                threading.Thread(target=self._load, args=(key, load, refresh), name="claimflow-refresh", daemon=True).start()
        finished = refresh.done.wait(wait)
        if finished and refresh.error is None:
            return refresh.value
        if usable:
            why = str(refresh.error) if finished else f"no answer within {wait * 1000:.0f} ms"  # type: ignore[operator]
            _log.warning("parameter store refresh of %s failed or is late, serving the cached value: %s", key[1], why)
            self._served_stale(key[1], self._clock() - stale_since)
            return value
        if refresh.error is not None and not refused:
            raise refresh.error
        if refresh.error is not None:
            raise ParameterStoreError(f"{refresh.error}; {refused}")
        late = f"the parameter store did not answer for {key[1]} within {wait * 1000:.0f} ms"  # type: ignore[operator]
        raise ParameterStoreError(late + (f"; {refused}" if refused else ""))

    def _refusal(self, entry: _Entry, now: float, servable: ServableCheck | None) -> str | None:
        """Why the cached value may not be served now (None: it may)."""
        stale_for = now - entry.fresh_until
        if stale_for > self.max_stale and _holds_secret(entry.value):
            return (
                f"the cached value holds a secret and has been stale for {stale_for:.0f} s, longer than "
                f"{Env.MAX_STALE_SECONDS} (MaxStaleSeconds) allows: {self.max_stale:.0f} s"
            )
        return None if servable is None else servable(entry.value, now - entry.loaded_at)

    def _served_stale(self, name: str, stale_for: float) -> None:
        if self.on_stale is not None:
            self.on_stale(name, stale_for)

    def _wait(self, deadline: float | None, *, has_stale: bool) -> float | None:
        """How long this caller waits for a refresh; None: until it ends."""
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if has_stale:
            return self.stale_wait if remaining is None else min(self.stale_wait, remaining)
        return remaining

    def _load(self, key: Key, load: Callable[[str], Any], refresh: _Refresh) -> None:
        try:
            refresh.value = load(key[1])
        except ParameterStoreError as error:
            refresh.error = error
        except Exception as error:  # a backend bug must not leave waiters hanging
            refresh.error = ParameterStoreError(f"reading {key[1]} failed: {type(error).__name__}")
        with self._lock:
            ended = self._clock()
            entry = self._cache.setdefault(key, _Entry())
            if entry.refresh is refresh:
                entry.refresh = None
            entry.failing = refresh.error is not None
            if refresh.error is None:
                entry.value, entry.has_value, entry.loaded_at = refresh.value, True, ended
                entry.fresh_until, entry.retry_after = ended + self.max_age, -math.inf
            else:
                entry.retry_after = ended + min(self.failure_backoff, self.max_age) if self.max_age > 0 else ended
        refresh.done.set()

    # --- the backend -------------------------------------------------------------------------

    @abstractmethod
    def _get_by_path(self, path: str) -> dict[str, Parameter]:
        """Load every parameter directly under ``path``; raise ParameterStoreError on failure."""

    @abstractmethod
    def _get(self, name: str) -> Parameter | None:
        """Load one parameter; None when it does not exist; ParameterStoreError on failure."""

    @abstractmethod
    def put(self, name: str, value: str, *, secret: bool = False, description: str = "", key_id: str | None = None) -> None:
        """Write (overwrite) one parameter and forget cached reads; a secret one encrypted under
        ``key_id`` (a KMS key or alias) when given, else the store's default key."""


class InMemoryParameterStore(ParameterStore):
    """A parameter store in a dict, for unit tests; counts loads, and can be made unreachable,
    slow (``delay`` seconds per load) or stalled until ``gate`` is set."""

    def __init__(self, parameters: Mapping[str, str | tuple[str, bool]] | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.parameters: dict[str, Parameter] = {}
        self.key_ids: dict[str, str | None] = {}  # the KMS key each parameter was written under
        self.loads = 0
        self.unreachable = False
        self.delay = 0.0
        self.gate: threading.Event | None = None
        for name, spec in (parameters or {}).items():
            value, secret = spec if isinstance(spec, tuple) else (spec, False)
            self.put(name, value, secret=secret)

    def put(self, name: str, value: str, *, secret: bool = False, description: str = "", key_id: str | None = None) -> None:
        self.parameters[name] = Parameter(name, value, secret)
        self.key_ids[name] = key_id
        self.clear_cache()

    def _check_reachable(self) -> None:
        self.loads += 1
        if self.delay:
            time.sleep(self.delay)
        if self.gate is not None:
            self.gate.wait()
        if self.unreachable:
            raise ParameterStoreError("parameter store unreachable (InMemoryParameterStore.unreachable is set)")

    def _get_by_path(self, path: str) -> dict[str, Parameter]:
        self._check_reachable()
        prefix = path.rstrip("/") + "/"
        return {
            name[len(prefix) :]: parameter
            for name, parameter in self.parameters.items()
            if name.startswith(prefix) and "/" not in name[len(prefix) :]
        }

    def _get(self, name: str) -> Parameter | None:
        self._check_reachable()
        return self.parameters.get(name)
