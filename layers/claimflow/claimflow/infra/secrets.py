"""The secrets a container has read, and the one redaction every sink uses (logs, replies,
error text). Kept apart from logs and the runtime so either can use it without a cycle.

A secret rarely appears as its raw text: a value stored from a file ends with a newline that
JSON logs escape, an HTTP library quotes it in an error, a URL percent-encodes it. So each
secret is registered in every form it can take on the way out (raw, stripped of surrounding
whitespace, JSON-escaped with and without ASCII escapes, ``repr``-escaped, percent-encoded
three ways), and ``redact`` replaces any of them.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from functools import cache
from urllib.parse import quote, quote_plus

__all__ = ["REDACTED", "SecretRegistry", "container_secrets", "encoded_forms"]

REDACTED = "••••"
_MIN_REDACTED_LENGTH = 4  # shorter "secrets" would redact ordinary words
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"  # what requests leaves unquoted when it requotes a URL


def encoded_forms(secret: str) -> set[str]:
    """Every way ``secret`` can be written out by our sinks and libraries."""
    forms: set[str] = set()
    for value in {secret, secret.strip()}:
        forms |= {
            value,
            json.dumps(value)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
            repr(value)[1:-1],
            quote(value, safe=""),
            quote(value, safe=_URL_SAFE),
            quote_plus(value),
        }
    return {form for form in forms if len(form) >= _MIN_REDACTED_LENGTH}


class SecretRegistry:
    """The secret values this container has loaded, to scrub from anything it writes out."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        forms = encoded_forms(value)
        if forms - self._forms:
            with self._lock:
                self._forms |= forms
                # Longest first, so a secret that contains another is scrubbed whole.
                alternatives = sorted(self._forms, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(form) for form in alternatives))

    def __bool__(self) -> bool:
        """Whether any secret has been loaded (nothing to scrub otherwise)."""
        return self._pattern is not None

    def redact(self, text: str) -> str:
        pattern = self._pattern
        return text if pattern is None else pattern.sub(REDACTED, text)

    def redact_value(self, value: object) -> object:
        """``value`` with every string inside it redacted (for structured log fields)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.redact(str(k)) if isinstance(k, str) else k: self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.redact_value(v) for v in value)
        return value


@cache
def container_secrets() -> SecretRegistry:
    """The secrets this container has seen; shared by logs, replies and error text."""
    return SecretRegistry()
