"""Lambda's Invoke API (``RequestResponse``) over one pooled urllib3 connection pool
(``claimflow.infra.aws_transport``), each request SigV4-signed, each call bounded by the caller's deadline.

Why not a boto3 client: its timeouts are per client, not per call, and its retry modes retry
read timeouts, so a slow function would run again (with its side effects) while its first run
is still going. Here a call is retried only where it provably did not run:
- HTTP 429 ``TooManyRequestsException`` (Lambda throttled it before running it), and
- a connection that could not be opened (nothing was sent), a bounded number of times within a
  short connect budget (3 tries, 2 s): an endpoint that refuses connections is down, and the
  caller hears so at once instead of at its deadline,
each only while the deadline leaves time for another try. A read timeout, a dropped
connection after sending, or any other error is never retried.

The endpoint is ``CLAIMFLOW_LAMBDA_ENDPOINT`` (``sam local start-lambda``), else boto3's settings
(``AWS_ENDPOINT_URL_LAMBDA``, ``AWS_ENDPOINT_URL``), which is how the emulator is reached;
credentials are the function's role's (Lambda's variables), else botocore's provider chain.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from claimflow.environment import Env, env_str
from claimflow.errors import LambdaInvokeError
from claimflow.infra.aws_transport import AwsHttp
from claimflow.infra.sigv4 import Credentials

__all__ = ["InvokeReply", "LambdaInvokeClient"]

_MIN_ATTEMPT_SECONDS = 0.05  # below this, another try could not finish in time
_THROTTLE_BACKOFF_SECONDS = 0.05
_CONNECT_BACKOFF_SECONDS = 0.1  # doubled after each refused connect


@dataclass(frozen=True)
class InvokeReply:
    """A function's answer: ``function_error`` is Lambda's ``X-Amz-Function-Error`` (the body
    is then the error object); ``executed_version`` its ``X-Amz-Executed-Version`` (the version
    an alias ran: what a recording names)."""

    payload: bytes
    function_error: str | None
    executed_version: str | None = None


class LambdaInvokeClient:
    """One per container; thread-safe."""

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        region: str | None = None,
        max_pool: int = 16,
        credentials: tuple[str, str] | None = None,
        connect_attempts: int = 3,
        connect_budget: float = 2.0,
    ) -> None:
        """``credentials`` (access key id, secret) are for local endpoints; by default the
        function's own (Lambda's variables), else botocore's provider chain. A connection that
        cannot be opened is tried at most ``connect_attempts`` times within ``connect_budget``
        seconds of the call's start."""
        self.connect_attempts = connect_attempts
        self.connect_budget = connect_budget
        self._http = AwsHttp(
            "lambda",
            endpoint=endpoint or env_str(Env.LAMBDA_ENDPOINT, "") or None,
            region_name=region,
            credentials=Credentials(*credentials) if credentials else None,
            max_pool=max_pool,
        )
        self.region, self.endpoint = self._http.region, self._http.endpoint

    def invoke(self, function: str, payload: Mapping[str, Any] | bytes, *, deadline: float) -> InvokeReply:
        """Run ``function`` once and return its answer; raise ``LambdaInvokeError`` when Lambda
        refused or could not be reached in time. ``deadline`` is a ``time.monotonic()`` value."""
        import urllib3

        body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
        path = f"/2015-03-31/functions/{quote(function, safe='')}/invocations"
        headers = {"Content-Type": "application/json", "X-Amz-Invocation-Type": "RequestResponse"}
        attempt = refused = 0
        started = time.monotonic()
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            if remaining < _MIN_ATTEMPT_SECONDS:
                raise LambdaInvokeError(f"invoke {function}: no time left before the deadline (attempt {attempt})")
            try:
                response = self._http.send(
                    "POST", path, body, headers, timeout=urllib3.Timeout(connect=min(1.0, remaining), read=remaining)
                )
            except urllib3.exceptions.NewConnectionError as error:  # nothing was sent
                refused += 1
                backoff, now = _CONNECT_BACKOFF_SECONDS * 2 ** (refused - 1), time.monotonic()
                if (
                    refused < self.connect_attempts
                    and now + backoff - started < self.connect_budget
                    and deadline - now > backoff + _MIN_ATTEMPT_SECONDS * 2
                ):
                    time.sleep(backoff)
                    continue
                raise LambdaInvokeError(
                    f"invoke {function}: cannot connect to {self.endpoint} ({error}); "
                    f"{refused} {'try' if refused == 1 else 'tries'} in {now - started:.1f} s"
                ) from None
            except urllib3.exceptions.ReadTimeoutError:
                raise LambdaInvokeError(f"invoke {function}: no answer within {remaining * 1000:.0f} ms") from None
            except urllib3.exceptions.HTTPError as error:
                raise LambdaInvokeError(f"invoke {function} failed: {type(error).__name__}: {error}") from None
            backoff = _THROTTLE_BACKOFF_SECONDS * attempt
            if response.status == 429 and deadline - time.monotonic() > backoff + _MIN_ATTEMPT_SECONDS:
                time.sleep(backoff)  # throttled: the function did not run
                continue
            if response.status >= 300:
                raise LambdaInvokeError(f"invoke {function}: {_service_error(response.status, response.headers, response.data)}")
            return InvokeReply(
                payload=response.data,
                function_error=response.headers.get("X-Amz-Function-Error"),
                executed_version=response.headers.get("X-Amz-Executed-Version"),
            )


def _service_error(status: int, headers: Mapping[str, str], body: bytes) -> str:
    kind = headers.get("x-amzn-ErrorType", "").split(":", 1)[0] or f"HTTP {status}"
    try:
        message = str(json.loads(body).get("message") or json.loads(body).get("Message") or "")
    except (ValueError, AttributeError):
        message = ""
    return f"{kind} ({status}){': ' + message[:256] if message else ''}"
