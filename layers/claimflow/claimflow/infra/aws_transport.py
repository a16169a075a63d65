"""Signed HTTP to one AWS service over one pooled urllib3 pool: the transport of the AWS calls
on the login path (``ssm_api``, ``lambda_api``, ``kms_api``, ``dynamodb_api``). No boto3 client is built, so a
cold start pays neither botocore's import nor its service models, and a call costs a
signature and a request.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from claimflow.infra.sigv4 import Credentials, CredentialsProvider, sign

if TYPE_CHECKING:
    import urllib3

__all__ = ["AwsHttp", "region"]

_MIN_ATTEMPT_SECONDS = 0.05  # below this, an attempt could not finish in time
_BACKOFF_SECONDS = 0.05
_THROTTLED = frozenset({"ThrottlingException", "TooManyUpdates", "LimitExceededException"})


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


class AwsHttp:
    """One service's endpoint: ``configured`` (claimflow's own variable, for sam local and make
    dev), else boto3's ``AWS_ENDPOINT_URL_<SERVICE>`` / ``AWS_ENDPOINT_URL``, else AWS's."""

    def __init__(
        self,
        service: str,
        *,
        endpoint: str | None = None,
        region_name: str | None = None,
        credentials: Credentials | None = None,
        max_pool: int = 10,
    ) -> None:
        import urllib3

        self.service = service
        self.region = region_name or region()
        configured = endpoint or os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL") or ""
        self.endpoint = (configured or f"https://{service}.{self.region}.amazonaws.com").rstrip("/")
        self.credentials = CredentialsProvider(credentials)
        # One pool for the one endpoint: no PoolManager keying on every request.
        self._pool = urllib3.connection_from_url(self.endpoint, maxsize=max_pool, block=False, retries=False)
        self._prefix = urlsplit(self.endpoint).path  # an endpoint behind a path (a proxy) keeps it

    def send(
        self, method: str, path: str, body: bytes, headers: dict[str, str], *, timeout: urllib3.Timeout
    ) -> urllib3.BaseHTTPResponse:
        """One signed request, no retries, no redirects; raises urllib3's errors."""
        credentials = self.credentials.get()
        if credentials is None:
            from claimflow.errors import ConfigurationError

            raise ConfigurationError(f"no AWS credentials to sign the {self.service} request with")
        url = f"{self.endpoint}{path}"
        signed = sign(method, url, headers, body, credentials=credentials, region=self.region, service=self.service)
        return self._pool.urlopen(
            method, self._prefix + path, body=body, headers=signed, timeout=timeout, retries=False, redirect=False
        )

    def call_json(
        self,
        target: str,
        arguments: Mapping[str, Any],
        *,
        error: Callable[[str, str, int], Exception],
        deadline: float | None = None,
        read_timeout: float = 2.0,
        retry: bool = False,
        content_type: str = "application/x-amz-json-1.1",
    ) -> dict[str, Any]:
        """One action of a JSON-protocol service (``X-Amz-Target``: SSM, KMS; DynamoDB speaks
        ``application/x-amz-json-1.0``); its reply.

        Tried again once, only while ``deadline`` (``time.monotonic()``) leaves time: when the
        connection could not be opened (nothing was sent), and, if ``retry`` (the action is
        safe to repeat), on throttling, a 5xx or a connection that broke. Failures become
        ``error(code, message, status)``, ``code`` being the service's error type.
        """
        import urllib3

        body = json.dumps(arguments, separators=(",", ":")).encode()
        headers = {"Content-Type": content_type, "X-Amz-Target": target}
        action = target.rsplit(".", 1)[-1]
        for attempt in (1, 2):
            remaining = read_timeout if deadline is None else min(read_timeout, deadline - time.monotonic())
            if remaining < _MIN_ATTEMPT_SECONDS:
                raise error("Timeout", f"{action}: no time left before the deadline (attempt {attempt})", 0)
            timeout = urllib3.Timeout(connect=min(1.0, remaining), read=remaining)
            try:
                response = self.send("POST", "/", body, headers, timeout=timeout)
            except urllib3.exceptions.NewConnectionError as failure:  # nothing was sent
                if attempt == 1:
                    continue
                raise error("ConnectionError", f"{action}: cannot connect to {self.endpoint} ({failure})", 0) from None
            except urllib3.exceptions.HTTPError as failure:
                if retry and attempt == 1:
                    continue
                raise error(type(failure).__name__, f"{action}: {failure}", 0) from None
            document = _json(response.data)
            if response.status < 300:
                return document
            code = str(document.get("__type", "")).rsplit("#", 1)[-1] or f"HTTP{response.status}"
            if retry and attempt == 1 and (code in _THROTTLED or response.status >= 500):
                time.sleep(_BACKOFF_SECONDS)
                continue
            message = str(document.get("message") or document.get("Message") or "")
            raise error(code, f"{action}: {message}" if message else action, response.status)
        raise AssertionError("unreachable: the second attempt returns or raises")


def _json(data: bytes) -> dict[str, Any]:
    try:
        document = json.loads(data) if data else {}
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}
