"""Environment variables for workflows: the seed's ``getEnvironmentVariable``, over SSM.

A workflow's own path wins over the stage-wide path. Every secret value read is remembered
by the container's ``SecretRegistry`` so logs and error text can redact it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from claimflow.config import SsmPaths
from claimflow.parameters import ParameterStore

__all__ = ["REDACTED", "EnvironmentVariable", "EnvironmentVariables", "SecretRegistry"]

REDACTED = "••••"
_MIN_REDACTED_LENGTH = 4  # shorter "secrets" would redact ordinary words


@dataclass(frozen=True)
class EnvironmentVariable:
    """The seed's ``{value, isSecret}``. Neither repr nor str shows a secret value."""

    value: str = field(repr=False)
    is_secret: bool = False

    def __repr__(self) -> str:
        return f"EnvironmentVariable(value={REDACTED if self.is_secret else repr(self.value)}, is_secret={self.is_secret})"

    __str__ = __repr__


class SecretRegistry:
    """The secret values this container has loaded, to scrub from anything it writes out."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        if len(value) >= _MIN_REDACTED_LENGTH:
            with self._lock:
                self._values.add(value)

    def redact(self, text: str) -> str:
        # Longest first, so a secret that contains another is scrubbed whole.
        for value in sorted(self._values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, REDACTED)
        return text


class EnvironmentVariables:
    """Reads a workflow's variables: its own SSM path first, then the stage-wide one."""

    def __init__(self, store: ParameterStore, paths: SsmPaths, secrets: SecretRegistry) -> None:
        self._store = store
        self._paths = paths
        self._secrets = secrets

    def get(self, workflow_id: str, key: str) -> EnvironmentVariable | None:
        for path in (self._paths.workflow_env(workflow_id), self._paths.shared_env):
            parameter = self._store.get_by_path(path).get(key)
            if parameter is not None:
                if parameter.is_secret:
                    self._secrets.add(parameter.value)
                return EnvironmentVariable(parameter.value, parameter.is_secret)
        return None
