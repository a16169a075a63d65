"""The parameter-store port: cached reads of parameters by path or by name.

Shaped like Powertools' ``BaseProvider``: ``ParameterStore`` owns caching (with a TTL,
serving the stale value when a refresh fails so SSM throttling never fails a login that
a cached value can serve) and error wrapping; each backend writes only ``_get_by_path`` and
``_get``. No AWS import here: the SSM backend lives in ``claimflow.ssm``.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from claimflow.errors import ParameterStoreError

__all__ = ["DEFAULT_MAX_AGE_SECONDS", "InMemoryParameterStore", "Parameter", "ParameterStore"]

DEFAULT_MAX_AGE_SECONDS = 60.0
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


@dataclass
class _Entry:
    value: Any
    fetched_at: float


class ParameterStore(ABC):
    """Cached parameter reads. Subclasses implement ``_get_by_path`` and ``_get`` only."""

    def __init__(self, *, max_age: float = DEFAULT_MAX_AGE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._clock = clock
        self._cache: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()

    def get_by_path(self, path: str) -> Mapping[str, Parameter]:
        """Parameters directly under ``path``, keyed by their last name segment."""
        result: Mapping[str, Parameter] = self._cached(("path", path.rstrip("/")), self._get_by_path)
        return result

    def get(self, name: str) -> Parameter | None:
        """One parameter by its full name, or None when it does not exist."""
        result: Parameter | None = self._cached(("name", name), self._get)
        return result

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def _cached(self, key: tuple[str, str], load: Callable[[str], Any]) -> Any:
        with self._lock:
            entry = self._cache.get(key)
            now = self._clock()
            if entry is not None and now - entry.fetched_at < self.max_age:
                return entry.value
            try:
                value = load(key[1])
            except ParameterStoreError as error:
                if entry is None:
                    raise
                # Stale-if-error: a throttled or unreachable store must not fail a login
                # that the last good value can serve. Retry after a short back-off.
                _log.warning("parameter store refresh failed, serving cached value: %s", error)
                entry.fetched_at = now - self.max_age + min(5.0, self.max_age)
                return entry.value
            self._cache[key] = _Entry(value, now)
            return value

    @abstractmethod
    def _get_by_path(self, path: str) -> dict[str, Parameter]:
        """Load every parameter directly under ``path``; raise ParameterStoreError on failure."""

    @abstractmethod
    def _get(self, name: str) -> Parameter | None:
        """Load one parameter; None when it does not exist; ParameterStoreError on failure."""

    @abstractmethod
    def put(self, name: str, value: str, *, secret: bool = False, description: str = "") -> None:
        """Write (overwrite) one parameter and forget cached reads."""


class InMemoryParameterStore(ParameterStore):
    """A parameter store in a dict, for unit tests; counts loads and can be made unreachable."""

    def __init__(self, parameters: Mapping[str, str | tuple[str, bool]] | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.parameters: dict[str, Parameter] = {}
        self.loads = 0
        self.unreachable = False
        for name, spec in (parameters or {}).items():
            value, secret = spec if isinstance(spec, tuple) else (spec, False)
            self.put(name, value, secret=secret)

    def put(self, name: str, value: str, *, secret: bool = False, description: str = "") -> None:
        self.parameters[name] = Parameter(name, value, secret)
        self.clear_cache()

    def _check_reachable(self) -> None:
        self.loads += 1
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
