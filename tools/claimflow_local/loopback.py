"""The HTTP server and handler base every local stand-in runs on: threaded, on 127.0.0.1,
keep-alive without the 40 ms delayed-ACK stall, quiet when a client hangs up, a read timeout
on every connection, and one careful body reader (a bad ``Content-Length`` is a 4xx JSON
reply, never a crash or a huge allocation)."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LoopbackHandler", "LoopbackServer"]

DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, name: str) -> LoopbackServer:
        # A short poll: stop() waits for the loop to notice, and make dev stops many servers.
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, TimeoutError)):
            super().handle_error(request, client_address)


class BodyError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status


class LoopbackHandler(BaseHTTPRequestHandler):
    """Base of the local servers' handlers: framing, body reading and JSON replies."""

    protocol_version = "HTTP/1.1"  # keep-alive, as boto3 and requests expect
    disable_nagle_algorithm = True  # headers and body go out separately; no 40 ms delayed-ACK stall
    timeout = 30  # seconds a connection may stay silent (a client that opens and never sends)
    max_body_bytes = DEFAULT_MAX_BODY_BYTES

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def read_body(self) -> bytes:
        """The request body, after checking ``Content-Length`` (raises ``BodyError``)."""
        declared = self.headers.get("Content-Length")
        if declared is None:
            if self.headers.get("Transfer-Encoding"):
                raise BodyError(411, "send the body with a Content-Length")
            return b""
        if not declared.isdigit():
            raise BodyError(400, f"Content-Length {declared[:32]!r} is not a byte count")
        length = int(declared)
        if length > self.max_body_bytes:
            raise BodyError(413, f"the body is {length} bytes; the limit is {self.max_body_bytes}")
        return self.rfile.read(length) if length else b""

    def body_or_reply(self) -> bytes | None:
        """The body, or None after answering the framing error (the connection then closes)."""
        try:
            return self.read_body()
        except BodyError as error:
            self.close_connection = True
            self.send_json(error.status, {"error": "invalid_request", "error_description": str(error)})
            return None

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's errors (a malformed request line, an unsupported method, a
        header too long) as JSON too, and the connection closed after them."""
        self.close_connection = True
        if code == 501:  # no do_<METHOD>: that method is not allowed here
            code, message = 405, f"{self.command} is not allowed here"
        self.send_json(code, {"error": "invalid_request", "error_description": message or explain or "bad request"})

    def send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, document: Any, headers: Mapping[str, str] | None = None) -> None:
        self.send(status, json.dumps(document).encode(), {"Content-Type": "application/json", **(headers or {})})
