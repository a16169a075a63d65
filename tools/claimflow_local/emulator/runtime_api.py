"""The Lambda Runtime API one sandbox's runtime client talks to, as Lambda serves it
(``/2018-06-01/runtime/...``; aws-facts.md §c):

- ``GET  invocation/next``: long-polls the next event; answers it with ``Content-Type`` and the
  ``Lambda-Runtime-Aws-Request-Id``, ``-Deadline-Ms`` (epoch milliseconds),
  ``-Invoked-Function-Arn`` and ``-Trace-Id`` headers (awslambdaric crashes without them);
- ``POST invocation/{id}/response`` and ``invocation/{id}/error``: 202;
- ``POST init/error``: 202, the sandbox failed to start.

The first ``next`` is the sign that the function's init (its imports) is done.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from claimflow_local.loopback import BodyError, LoopbackHandler, LoopbackServer

__all__ = ["Invocation", "RuntimeApi"]

_PREFIX = "/2018-06-01/runtime"
_RESULT = re.compile(rf"^{_PREFIX}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")


@dataclass
class Invocation:
    """One event handed to the runtime client, and its outcome once posted."""

    payload: bytes
    deadline_ms: int  # epoch milliseconds
    function_arn: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    trace_id: str = field(
        default_factory=lambda: f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
    )
    done: threading.Event = field(default_factory=threading.Event)
    result: bytes | None = None  # the response body
    error: dict[str, Any] | None = None  # the error document

    def finish(self, *, result: bytes | None = None, error: dict[str, Any] | None = None) -> None:
        if not self.done.is_set():
            self.result, self.error = result, error
            self.done.set()


class RuntimeApi:
    """The Runtime API of one sandbox, on its own loopback port."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._pending: Invocation | None = None
        self._current: Invocation | None = None
        self.ready = threading.Event()  # the runtime asked for its first event: init is done
        self.init_error: dict[str, Any] | None = None
        self.init_failed = threading.Event()
        self._stopping = threading.Event()
        self._server = LoopbackServer(self._handler())

    @property
    def address(self) -> str:
        """``AWS_LAMBDA_RUNTIME_API``: host and port, no scheme."""
        return f"127.0.0.1:{self._server.port}"

    def start(self) -> RuntimeApi:
        self._server.start(f"runtime-api-{self._server.port}")
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            self._pending = None
            self._lock.notify_all()
        self._server.stop()

    def submit(self, invocation: Invocation) -> None:
        with self._lock:
            self._pending = invocation
            self._lock.notify_all()

    @property
    def current(self) -> Invocation | None:
        return self._current

    def _next(self) -> Invocation | None:
        self.ready.set()
        with self._lock:
            while self._pending is None and not self._stopping.is_set():
                self._lock.wait(0.5)
            invocation, self._pending = self._pending, None
            self._current = invocation
            return invocation

    def _handler(self) -> type[LoopbackHandler]:
        api = self

        class Handler(LoopbackHandler):
            timeout = None  # type: ignore[assignment]  # the runtime client long-polls: no read timeout

            def do_GET(self) -> None:
                if self.path != f"{_PREFIX}/invocation/next":
                    self.send_json(404, {"errorType": "InvalidRequest", "errorMessage": f"unknown path {self.path}"})
                    return
                invocation = api._next()
                if invocation is None:
                    self.close_connection = True
                    return
                self.send(
                    200,
                    invocation.payload,
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                        "Lambda-Runtime-Trace-Id": invocation.trace_id,
                    },
                )

            def do_POST(self) -> None:
                try:
                    body = self.read_body()
                except BodyError as error:
                    self.send_json(error.status, {"errorType": "InvalidRequest", "errorMessage": str(error)})
                    return
                if self.path == f"{_PREFIX}/init/error":
                    api.init_error = _error_document(body, self.headers.get("Lambda-Runtime-Function-Error-Type"))
                    api.init_failed.set()
                    self.send_json(202, {"status": "OK"})
                    return
                match = _RESULT.match(self.path)
                current = api._current
                if match is None:
                    self.send_json(404, {"errorType": "InvalidRequest", "errorMessage": f"unknown path {self.path}"})
                    return
                if current is None or current.request_id != match["id"]:
                    self.send_json(
                        400, {"errorType": "InvalidRequestID", "errorMessage": f"no invocation {match['id']} is running"}
                    )
                    return
                if match["kind"] == "response":
                    current.finish(result=body)
                else:
                    current.finish(error=_error_document(body, self.headers.get("Lambda-Runtime-Function-Error-Type")))
                self.send_json(202, {"status": "OK"})

        return Handler


def _error_document(body: bytes, error_type: str | None) -> dict[str, Any]:
    """What the runtime posted, as Lambda reports it: the error type header is optional
    (awslambdaric sends none for invocation errors), the body's ``errorType`` wins."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        document = {"errorMessage": body.decode("utf-8", errors="replace")}
    if not isinstance(document, dict):
        document = {"errorMessage": str(document)}
    document.setdefault("errorType", error_type or "Runtime.UnknownReason")
    document.setdefault("errorMessage", "")
    document.pop("requestId", None)
    return document
