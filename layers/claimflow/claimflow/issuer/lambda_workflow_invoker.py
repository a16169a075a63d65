"""The workflow invoker over Lambda's Invoke API (``RequestResponse``), each call bounded by the
time the workflow has left; in local mode pointed at the emulator by endpoint URL. It turns what
Lambda answers (``claimflow.infra.lambda_api``: the signed HTTP) into a workflow's reply or its
``WorkflowInvocationError``.

What is retried, exactly: a throttled invoke (429, the function did not run) and a connection
that could not be opened (nothing was sent), each only within the deadline. Nothing else: a
workflow runs at most once per token request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from claimflow.errors import LambdaInvokeError
from claimflow.infra.lambda_api import LambdaInvokeClient
from claimflow.issuer.errors import WorkflowInvocationError

__all__ = ["LambdaWorkflowInvoker"]


class LambdaWorkflowInvoker:
    """Invokes workflow Lambdas; one pooled, signed client per container, made on first use."""

    def __init__(self, *, client: LambdaInvokeClient | None = None, max_pool: int = 16) -> None:
        self._client = client
        self._max_pool = max_pool

    @property
    def client(self) -> LambdaInvokeClient:
        if self._client is None:
            self._client = LambdaInvokeClient(max_pool=self._max_pool)
        return self._client

    def invoke(self, workflow_id: str, function: str, payload: Mapping[str, Any], *, timeout: float) -> Any:
        try:
            reply = self.client.invoke(function, payload, deadline=time.monotonic() + timeout)
        except LambdaInvokeError as error:
            raise WorkflowInvocationError(workflow_id, str(error)) from None
        if reply.function_error:
            detail = _function_error(reply.payload)
            raise WorkflowInvocationError(workflow_id, f"function error ({reply.function_error}): {detail}")
        try:
            answer = json.loads(reply.payload)
        except ValueError:
            raise WorkflowInvocationError(workflow_id, "the reply is not JSON") from None
        recording = answer.get("recording") if isinstance(answer, dict) else None
        if isinstance(recording, dict) and reply.executed_version:
            recording["version"] = reply.executed_version  # Lambda's word for what ran (the live alias's version)
        return answer


def _function_error(body: bytes) -> str:
    try:
        error = json.loads(body)
        return f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"[:1024]
    except (ValueError, AttributeError):
        return body[:256].decode("utf-8", errors="replace")
