"""Spans around what the issuer waits on: one per workflow invocation, opened on the worker
thread under the request's trace, and one around signing; none, and nothing imported, when
tracing is off."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest

from claimflow.infra.spans import NoSpans
from tests.unit.issuing import issuer_with, patching, user_request


class RecordingSpans:
    def __init__(self) -> None:
        self.spans: list[tuple[str, Any, str, dict[str, str]]] = []

    def current(self) -> Any:
        return f"trace-of-{threading.current_thread().name}"

    @contextmanager
    def span(self, name: str, *, parent: Any = None, annotations: Mapping[str, str] | None = None) -> Iterator[None]:
        self.spans.append((name, parent, threading.current_thread().name, dict(annotations or {})))
        yield


def test_each_workflow_gets_a_span_on_its_worker_thread_under_the_requests_trace_and_signing_one_too() -> None:
    spans = RecordingSpans()
    issuer = issuer_with([("first", patching("first", {"a": 1}), "stop"), ("second", patching("second", {"b": 2}), "stop")])
    issuer.spans = spans
    issuer.workflows.spans = spans
    issuer.issue(user_request())
    caller = threading.current_thread().name
    workflows = sorted(
        (name, parent, annotations["workflow"]) for name, parent, thread, annotations in spans.spans if name != "sign"
    )
    assert workflows == [("workflow first", f"trace-of-{caller}", "first"), ("workflow second", f"trace-of-{caller}", "second")]
    assert all(thread != caller for name, _, thread, _ in spans.spans if name != "sign")
    sign = [s for s in spans.spans if s[0] == "sign"]
    assert len(sign) == 1 and sign[0][2] == caller and sign[0][3]["alg"] == "RS256"


def test_tracing_off_opens_nothing_and_imports_no_xray_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    from claimflow.infra.tracing import spans_from_environment

    monkeypatch.setenv("CLAIMFLOW_TRACING", "PassThrough")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "issuer")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.delitem(sys.modules, "aws_xray_sdk.core", raising=False)
    assert isinstance(spans_from_environment("issuer"), NoSpans)
    assert "aws_xray_sdk.core" not in sys.modules
