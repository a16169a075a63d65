"""X-Ray spans through Powertools' Tracer, for ``TracingMode=Active``: a subsegment per workflow
invocation (run on a worker thread, so the request's trace entity is carried to it, as the
X-Ray SDK asks for threads) and around signing. Imported only when tracing is active.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from claimflow.environment import Env, env_str
from claimflow.infra.spans import NoSpans, Spans

__all__ = ["XRaySpans", "spans_from_environment"]


class XRaySpans:
    def __init__(self, service: str) -> None:
        from aws_lambda_powertools import Tracer
        from aws_xray_sdk.core import xray_recorder

        self._tracer = Tracer(service=service, auto_patch=False)  # spans only where claimflow opens them
        self._recorder = xray_recorder

    def current(self) -> Any:
        try:
            return self._recorder.get_trace_entity()
        except Exception:  # no segment (outside Lambda): the span will say so once, not fail the request
            return None

    @contextmanager
    def span(self, name: str, *, parent: Any = None, annotations: Mapping[str, str] | None = None) -> Iterator[None]:
        if parent is not None:
            self._recorder.set_trace_entity(parent)
        with self._tracer.provider.in_subsegment(name=name) as subsegment:
            for key, value in (annotations or {}).items():
                subsegment.put_annotation(key, value)
            yield


def spans_from_environment(service: str) -> Spans:
    """X-Ray spans when the function traces (``CLAIMFLOW_TRACING=Active`` in Lambda), else none."""
    # As Powertools decides: in Lambda (its task root is set), not in an emulator it knows.
    in_lambda = "LAMBDA_TASK_ROOT" in os.environ and "AWS_SAM_LOCAL" not in os.environ
    active = env_str(Env.TRACING, "PassThrough") == "Active" and in_lambda
    return XRaySpans(service) if active else NoSpans()
