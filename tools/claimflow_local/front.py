"""The loopback endpoint ``make dev`` gives an identity stack: ``POST /token`` with a token
request (contract v1) answers the issuer's reply, through the emulator, as in AWS.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from claimflow.client import IssuerClient, IssuerRefusedError, IssuerUnavailableError
from claimflow_local.loopback import LoopbackServer

__all__ = ["HTTP_STATUS", "TokenEndpoint"]

HTTP_STATUS = {"invalid_request": 400, "access_denied": 403, "server_error": 500, "temporarily_unavailable": 503}


class TokenEndpoint:
    def __init__(self, issuer: IssuerClient, *, port: int = 0) -> None:
        self.issuer = issuer
        self._server = LoopbackServer(_handler(issuer), port=port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}/token"

    def start(self) -> TokenEndpoint:
        self._server.start("token-endpoint")
        return self

    def stop(self) -> None:
        self._server.stop()


def _handler(issuer: IssuerClient) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out separately; no 40 ms delayed-ACK stall

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            if self.path != "/token":
                self._json(404, {"error": "not_found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                request = json.loads(self.rfile.read(length) or b"null")
            except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested past the parser's limit
                self._json(400, {"error": "invalid_request", "error_description": "the body is not a JSON document"})
                return
            try:
                response = issuer.request_tokens(request)
            except IssuerRefusedError as refused:
                self._json(
                    HTTP_STATUS.get(refused.error_code, 400),
                    {"error": refused.error_code, "error_description": refused.description, "workflows": refused.workflows},
                )
                return
            except IssuerUnavailableError as error:
                self._json(503, {"error": "temporarily_unavailable", "error_description": error.description})
                return
            self._json(200, {**response.oauth_body(), "workflows": response.workflows})

    return Handler
