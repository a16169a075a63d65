"""The three SSM actions claimflow uses (GetParameter, GetParametersByPath, PutParameter), over
signed HTTP in SSM's JSON protocol, answering as boto3's client does (same arguments, same
dicts, errors with ``response["Error"]["Code"]``), so ``SsmParameterStore`` takes either.

Reads are tried again once where boto3's standard mode would (a connection that failed,
throttling, a 5xx), within the store's own deadline; a write only when nothing was sent.
"""

from __future__ import annotations

from typing import Any

from claimflow.errors import SsmApiError
from claimflow.infra.aws_transport import AwsHttp

__all__ = ["SsmApi"]


class SsmApi:
    """One per container; thread-safe."""

    def __init__(self, *, endpoint: str | None = None, read_timeout: float = 2.0) -> None:
        self._http = AwsHttp("ssm", endpoint=endpoint)
        self._read_timeout = read_timeout

    def get_parameter(self, **arguments: Any) -> dict[str, Any]:
        return self._call("GetParameter", arguments, retry=True)

    def get_parameters_by_path(self, **arguments: Any) -> dict[str, Any]:
        return self._call("GetParametersByPath", arguments, retry=True)

    def put_parameter(self, **arguments: Any) -> dict[str, Any]:
        return self._call("PutParameter", arguments, retry=False)

    def _call(self, action: str, arguments: dict[str, Any], *, retry: bool) -> dict[str, Any]:
        return self._http.call_json(
            f"AmazonSSM.{action}", arguments, error=SsmApiError, read_timeout=self._read_timeout, retry=retry
        )
