"""The Lambda API on a loopback port, as boto3 calls it: Invoke (RequestResponse, Event,
DryRun), GetFunctionConfiguration and UpdateFunctionConfiguration (the environment).

Routes are a table of (method, path pattern, operation); errors take Lambda's shapes: 200
with ``X-Amz-Function-Error`` for a failed function, 404 ``ResourceNotFoundException``, 413
``RequestTooLargeException``, 429 ``TooManyRequestsException``, and 500
``ServiceException`` when the emulator itself cannot run the function (a sandbox that cannot
start, e.g. its built folder is gone): an answer that names why, never a dropped connection.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from claimflow_local.emulator.pool import FunctionHost, ThrottledError
from claimflow_local.loopback import BodyError, LoopbackHandler

__all__ = ["invoke_api_handler"]

_log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
_FUNCTION = r"^/2015-03-31/functions/(?P<name>[^/]+)"


class _UnparsableBody(Exception):
    """The request body is not JSON: Lambda's 400, answered where operations are routed."""


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        raise _UnparsableBody from None


def function_name(raw: str) -> tuple[str, str | None]:
    """A function's name and qualifier from a name, a partial ARN or a full ARN."""
    name = unquote(raw)
    if name.startswith("arn:"):
        parts = name.split(":")
        return (parts[6], parts[7] if len(parts) > 7 else None) if len(parts) > 6 else (parts[-1], None)
    function, _, qualifier = name.partition(":")
    return function, qualifier or None


class _InvokeApiHandler(LoopbackHandler):
    emulator: FunctionHost
    max_body_bytes = MAX_PAYLOAD_BYTES

    def _reply(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send(status, body, {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4()), **(headers or {})})

    def _error(self, status: int, error_type: str, message: str, *, fault: str = "User") -> None:
        self._reply(status, json.dumps({"Type": fault, "message": message}).encode(), {"x-amzn-ErrorType": error_type})

    def _route(self) -> None:
        try:
            body = self.read_body()  # first, whatever the answer: the connection stays in step
        except BodyError as error:
            code = "RequestTooLargeException" if error.status == 413 else "InvalidRequestContentException"
            self.close_connection = True
            self._error(error.status, code, str(error))
            return
        path = urlsplit(self.path).path
        for method, pattern, operation in ROUTES:
            match = pattern.match(path)
            if match and method == self.command:
                name, qualifier = function_name(match["name"])
                qualifier = qualifier or parse_qs(urlsplit(self.path).query).get("Qualifier", [None])[0]
                pool = self.emulator.pools.get(name)
                # The function's alias runs what $LATEST runs: locally there is one version, the built one.
                if pool is None or qualifier not in (None, "$LATEST", pool.spec.alias):
                    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}" + (f":{qualifier}" if qualifier else "")
                    self._error(404, "ResourceNotFoundException", f"Function not found: {arn}")
                    return
                try:
                    operation(self, name, body)
                except _UnparsableBody:
                    self._error(400, "InvalidRequestContentException", "Could not parse request body into json")
                return
        self._error(404, "ResourceNotFoundException", f"unsupported path {path}")

    do_GET = do_POST = do_PUT = _route

    # --- operations ------------------------------------------------------------------------

    def invoke(self, name: str, raw: bytes) -> None:
        payload = _json(raw)
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            self._reply(204, b"")
            return
        if invocation_type == "Event":
            threading.Thread(target=self.emulator.invoke, args=(name, payload), daemon=True).start()
            self._reply(202, b"")
            return
        try:
            result = self.emulator.invoke(name, payload)
        except ThrottledError:
            self._error(429, "TooManyRequestsException", "Rate Exceeded.")
            return
        except Exception as error:  # the emulator's own failure (a SandboxStartError says why): Lambda's service error
            _log.exception("the emulator could not run %s", name)
            self._error(500, "ServiceException", f"the emulator could not run {name}: {error}", fault="Service")
            return
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if self.headers.get("X-Amz-Log-Type") == "Tail":
            headers["X-Amz-Log-Result"] = base64.b64encode(result.log_tail.encode()).decode()
        self._reply(200, result.payload, headers)

    def get_configuration(self, name: str, raw: bytes) -> None:
        self._reply(200, json.dumps(self.emulator.pools[name].configuration()).encode())

    def update_configuration(self, name: str, raw: bytes) -> None:
        body = _json(raw)
        variables = body.get("Environment", {}).get("Variables")
        if variables is None:
            self.get_configuration(name, raw)
            return
        self._reply(200, json.dumps(self.emulator.update_environment(name, variables)).encode())


Operation = Callable[[_InvokeApiHandler, str, bytes], None]
ROUTES: tuple[tuple[str, re.Pattern[str], Operation], ...] = (
    ("POST", re.compile(_FUNCTION + r"/invocations$"), _InvokeApiHandler.invoke),
    ("GET", re.compile(_FUNCTION + r"/configuration$"), _InvokeApiHandler.get_configuration),
    ("PUT", re.compile(_FUNCTION + r"/configuration$"), _InvokeApiHandler.update_configuration),
)


def invoke_api_handler(emulator: FunctionHost) -> type[LoopbackHandler]:
    return type("InvokeApiHandler", (_InvokeApiHandler,), {"emulator": emulator})
