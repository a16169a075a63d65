"""The one DynamoDB action the login path makes (PutItem), over signed HTTP in DynamoDB's JSON
protocol (``claimflow.infra.aws_transport``; no boto3 on the login path), answering as boto3's
client does (same arguments, same dict, errors with ``response["Error"]["Code"]``), so the
replay store takes either.

A conditional put is not safe to repeat (a lost reply to a write that happened would make
the second try lose its condition), so it is tried again only when nothing was sent.
"""

from __future__ import annotations

from typing import Any

from claimflow.environment import Env, env_str
from claimflow.errors import DynamoDbApiError
from claimflow.infra.aws_transport import AwsHttp
from claimflow.infra.sigv4 import Credentials

__all__ = ["DynamoDbApi"]

_JSON_1_0 = "application/x-amz-json-1.0"  # DynamoDB's protocol version (SSM and KMS speak 1.1)


class DynamoDbApi:
    """One per container; thread-safe. The endpoint is ``endpoint``, else
    ``CLAIMFLOW_DYNAMODB_ENDPOINT`` (sam local: make dev's moto), else boto3's
    ``AWS_ENDPOINT_URL_DYNAMODB``, else DynamoDB's own."""

    def __init__(self, *, endpoint: str | None = None, credentials: Credentials | None = None, read_timeout: float = 1.0) -> None:
        configured = endpoint or env_str(Env.DYNAMODB_ENDPOINT, "") or None
        self._http = AwsHttp("dynamodb", endpoint=configured, credentials=credentials)
        self._read_timeout = read_timeout

    @property
    def endpoint(self) -> str:
        return self._http.endpoint

    def put_item(self, *, deadline: float | None = None, **arguments: Any) -> dict[str, Any]:
        """PutItem, within ``deadline`` (a ``time.monotonic()`` value)."""
        return self._http.call_json(
            "DynamoDB_20120810.PutItem",
            arguments,
            error=DynamoDbApiError,
            deadline=deadline,
            read_timeout=self._read_timeout,
            retry=False,
            content_type=_JSON_1_0,
        )
