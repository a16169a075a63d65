"""The tracing port: spans around what the issuer waits on (each workflow invocation, signing).

The core asks for spans; the composition root decides whether they go anywhere. With
``TracingMode=Active`` they are X-Ray subsegments (``claimflow.infra.tracing``); otherwise
``NoSpans``, and nothing is imported or paid.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

__all__ = ["NoSpans", "Spans"]


class Spans(Protocol):
    def current(self) -> Any:
        """The trace context of this thread, to continue in another (a workflow's worker)."""

    def span(self, name: str, *, parent: Any = None, annotations: Mapping[str, str] | None = None) -> Any:
        """A context manager timing ``name`` (under ``parent`` when given, from another thread)."""


class NoSpans:
    """Tracing off: spans cost a function call."""

    def current(self) -> Any:
        return None

    @contextmanager
    def span(self, name: str, *, parent: Any = None, annotations: Mapping[str, str] | None = None) -> Iterator[None]:
        yield
