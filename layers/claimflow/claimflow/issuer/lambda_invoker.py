"""The workflow invoker over Lambda's Invoke API (boto3, ``RequestResponse``); in local mode
pointed at the emulator by endpoint URL."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from claimflow.infra.aws import aws_client
from claimflow.issuer.errors import WorkflowInvocationError

if TYPE_CHECKING:
    from botocore.client import BaseClient

__all__ = ["LambdaWorkflowInvoker"]


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
