"""The tracing port: spans around what the issuer waits on (each workflow invocation, signing).

The core asks for spans; the composition root decides whether they go anywhere. With
``TracingMode=Active`` they are X-Ray subsegments (``claimflow.infra.tracing``); otherwise
``NoSpans``, and nothing is imported or paid.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

__all__ = ["NoSpans", "Spans"]


class Spans(Protocol):
    def current(self) -> Any:
        """The trace context of this thread, to continue in another (a workflow's worker)."""

    def span(self, name: str, *, parent: Any = None, annotations: Mapping[str, str] | None = None) -> Any:
        """A context manager timing ``name`` (under ``parent`` when given, from another thread)."""


_NOTHING = nullcontext()  # reusable: entering it does nothing, every time


class NoSpans:
    """Tracing off: a span is one call returning a shared context that does nothing."""

    def current(self) -> Any:
        return None

    def span(
        self, name: str, *, parent: Any = None, annotations: Mapping[str, str] | None = None
    ) -> AbstractContextManager[None]:
        return _NOTHING
