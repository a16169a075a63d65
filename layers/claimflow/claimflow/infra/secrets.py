"""The secrets a container has read, and the one redaction every sink uses (logs, replies,
error text). Kept apart from logs and the runtime so either can use it without a cycle."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from functools import cache

__all__ = ["REDACTED", "SecretRegistry", "container_secrets"]

REDACTED = "••••"
_MIN_REDACTED_LENGTH = 4  # shorter "secrets" would redact ordinary words


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


@cache
def container_secrets() -> SecretRegistry:
    """The secrets this container has seen; shared by logs, replies and error text."""
    return SecretRegistry()
