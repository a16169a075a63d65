"""How the issuer runs a workflow: the ``WorkflowInvoker`` port, and its in-process adapter.

The real adapter is ``claimflow.issuer.lambda_workflow_invoker`` (Lambda's Invoke API, whose
signed HTTP is ``claimflow.infra.lambda_api``). ``InProcessWorkflowInvoker`` calls handlers
directly (tests, benchmarks, and stacks that run workflows beside the issuer). Nothing is
serialised: the handler validates the request and the issuer validates the reply and re-checks
every claim, as over the wire; a workflow cannot reach the issuer's objects (the event is a
read-only view, and claims it reads are copies).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from claimflow.issuer.errors import WorkflowInvocationError

__all__ = ["InProcessWorkflowInvoker", "WorkflowInvoker"]


class WorkflowInvoker(Protocol):
    def invoke(self, workflow_id: str, function: str, payload: Mapping[str, Any], *, timeout: float) -> Any:
        """Run one workflow and return its decoded reply; raise WorkflowInvocationError if it
        crashed, timed out or answered something that is not JSON."""
        ...


class _Context:
    """The slice of Lambda's context object a workflow handler reads."""

    def __init__(self, function_name: str, timeout: float) -> None:
        self.function_name = function_name
        self.aws_request_id = f"inproc-{time.monotonic_ns()}"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class InProcessWorkflowInvoker:
    """Invokes handler callables by function name, in this process (unit tests, benchmarks)."""

    def __init__(self, handlers: Mapping[str, Callable[[Any, Any], Any]]) -> None:
        self.handlers = dict(handlers)

    def invoke(self, workflow_id: str, function: str, payload: Mapping[str, Any], *, timeout: float) -> Any:
        handler = self.handlers.get(function)
        if handler is None:
            raise WorkflowInvocationError(workflow_id, f"no function named '{function}'")
        try:
            return handler(payload, _Context(function, timeout))
        except Exception as error:  # what Lambda would report as an Unhandled function error
            raise WorkflowInvocationError(workflow_id, f"function error: {type(error).__name__}: {error}") from error
