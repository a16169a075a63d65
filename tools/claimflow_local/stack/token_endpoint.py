"""The loopback endpoint ``make dev`` gives an identity stack that mints through claimflow:
``POST /token`` with a token request (contract v1) answers the issuer's reply, through the
emulator, as in AWS. (The example identity stack's OAuth endpoint is another thing:
``identity_stack.token_endpoint.OAuthTokenEndpoint``.)
"""

from __future__ import annotations

import json

from claimflow.wire.client import IssuerClient, IssuerRefusedError, IssuerUnavailableError
from claimflow_local.loopback import LoopbackHandler, LoopbackServer

__all__ = ["HTTP_STATUS", "TokenRequestEndpoint"]

HTTP_STATUS = {"invalid_request": 400, "access_denied": 403, "server_error": 500, "temporarily_unavailable": 503}


class TokenRequestEndpoint:
    def __init__(self, issuer: IssuerClient, *, port: int = 0) -> None:
        self.issuer = issuer
        self._server = LoopbackServer(_handler(issuer), port=port)

    @property
    def url(self) -> str:
        return f"{self._server.base_url}/token"

    def start(self) -> TokenRequestEndpoint:
        self._server.start("token-endpoint")
        return self

    def stop(self) -> None:
        self._server.stop()


def _handler(issuer: IssuerClient) -> type[LoopbackHandler]:
    class Handler(LoopbackHandler):
        def _json(self, status: int, body: object) -> None:
            self.send_json(status, body, {"Cache-Control": "no-store"})

        def do_POST(self) -> None:
            raw = self.body_or_reply()
            if raw is None:
                return
            if self.path != "/token":
                self._json(404, {"error": "not_found"})
                return
            constants: list[str] = []  # NaN, Infinity, -Infinity: Python reads them, JSON has no form for them
            try:
                request = json.loads(raw or b"null", parse_constant=constants.append)
            except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested past the parser's limit
                self._json(400, {"error": "invalid_request", "error_description": "the body is not a JSON document"})
                return
            if constants:
                description = f"the body holds {constants[0]}, which is not JSON; send a finite number"
                self._json(400, {"error": "invalid_request", "error_description": description})
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
