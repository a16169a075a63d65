"""A function's URL on a loopback port: each HTTP request becomes a Function URL event
(payload format 2.0), and the function's answer becomes the HTTP response, as Lambda's
Function URLs do."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from claimflow_local.emulator.pool import FunctionHost, ThrottledError
from claimflow_local.loopback import LoopbackHandler

__all__ = ["function_url_handler", "url_event"]

_log = logging.getLogger(__name__)


def _listening_on(handler: LoopbackHandler) -> str:
    host, port = handler.server.server_address[:2]  # type: ignore[index,str-unpack]
    return f"{host}:{port}"


def url_event(handler: LoopbackHandler, body: bytes) -> dict[str, Any]:
    """The Function URL event (payload 2.0) for one HTTP request."""
    parts = urlsplit(handler.path)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "queryStringParameters": dict(parse_qsl(parts.query)) or None,
        "headers": {**{k.lower(): v for k, v in handler.headers.items()}, "x-forwarded-proto": "http"},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": _listening_on(handler),  # where it listens, never the client's Host header
            "http": {
                "method": handler.command,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": handler.client_address[0],
                "userAgent": handler.headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": body.decode("utf-8", errors="replace") if body else None,
        "isBase64Encoded": False,
    }


class _FunctionUrlHandler(LoopbackHandler):
    emulator: FunctionHost
    function: str

    def _handle(self) -> None:
        body = self.body_or_reply()
        if body is None:
            return
        try:
            result = self.emulator.invoke(self.function, url_event(self, body))
        except ThrottledError:
            self.send(429, b'{"message":"Rate Exceeded."}', {"Content-Type": "application/json"})
            return
        except Exception:  # the emulator could not run it (SandboxStartError names why): a public 500, the cause logged
            _log.exception("the emulator could not run %s behind its function URL", self.function)
            self.send(500, b'{"message":"Internal Server Error"}', {"Content-Type": "application/json"})
            return
        if result.function_error:
            self.send(502, b'{"message":"Internal Server Error"}', {"Content-Type": "application/json"})
            return
        answer = json.loads(result.payload)
        if isinstance(answer, dict) and "statusCode" in answer:
            raw = answer.get("body") or ""
            data = base64.b64decode(raw) if answer.get("isBase64Encoded") else str(raw).encode()
            self.send(int(answer["statusCode"]), data, answer.get("headers") or {})
        else:
            self.send(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _handle


def function_url_handler(emulator: FunctionHost, function: str) -> type[LoopbackHandler]:
    return type("FunctionUrlHandler", (_FunctionUrlHandler,), {"emulator": emulator, "function": function})
