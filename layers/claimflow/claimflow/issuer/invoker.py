"""The workflow-invoker port and its adapters.

``LambdaWorkflowInvoker`` is the real one (boto3 ``Invoke``, ``RequestResponse``; in local
mode pointed at the emulator by endpoint URL). ``InProcessWorkflowInvoker`` calls handlers
directly, with a JSON round trip so what crosses is exactly what would cross the wire.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from claimflow.aws import aws_client
from claimflow.errors import WorkflowInvocationError

if TYPE_CHECKING:
    from botocore.client import BaseClient

__all__ = ["InProcessWorkflowInvoker", "LambdaWorkflowInvoker", "WorkflowInvoker"]


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
            reply = handler(json.loads(json.dumps(payload)), _Context(function, timeout))
            return json.loads(json.dumps(reply))
        except Exception as error:  # what Lambda would report as an Unhandled function error
            raise WorkflowInvocationError(workflow_id, f"function error: {type(error).__name__}: {error}") from error


class LambdaWorkflowInvoker:
    """Invokes workflow Lambdas with boto3; retries only throttling, never a function error."""

    def __init__(self, *, client: BaseClient | None = None, read_timeout: float = 10.0, max_pool: int = 16) -> None:
        self._client = client
        self._read_timeout = read_timeout
        self._max_pool = max_pool

    @property
    def client(self) -> BaseClient:
        if self._client is None:
            # Standard-mode retries cover throttles (429) and service 5xx, never a function error.
            self._client = aws_client(
                "lambda", read_timeout=self._read_timeout, max_attempts=3, max_pool_connections=self._max_pool
            )
        return self._client

    def invoke(self, workflow_id: str, function: str, payload: Mapping[str, Any], *, timeout: float) -> Any:
        try:
            response = self.client.invoke(
                FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
            )
            body = response["Payload"].read()
        except Exception as error:
            raise WorkflowInvocationError(workflow_id, f"invoke {function} failed: {type(error).__name__}: {error}") from error
        if response.get("FunctionError"):
            detail = _function_error(body)
            raise WorkflowInvocationError(workflow_id, f"function error ({response['FunctionError']}): {detail}")
        try:
            return json.loads(body)
        except ValueError:
            raise WorkflowInvocationError(workflow_id, "the reply is not JSON") from None


def _function_error(body: bytes) -> str:
    try:
        error = json.loads(body)
        return f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"[:1024]
    except (ValueError, AttributeError):
        return body[:256].decode("utf-8", errors="replace")
