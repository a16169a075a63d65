"""``POST /oauth/token`` for the client-credentials grant (RFC 6749 §4.4), in front of the
claimflow issuer. Client authentication: ``client_secret_basic`` or ``client_secret_post``.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

from claimflow.client import IssuerClient, IssuerRefusedError, IssuerUnavailableError, token_request
from identity_stack.clients import ClientRegistry, RegisteredClient

# claimflow's errors as RFC 6749 §5.2 errors (a workflow's denial: the client may not have a token).
_OAUTH_ERROR = {
    "access_denied": ("unauthorized_client", 400),
    "invalid_request": ("invalid_request", 400),
    "server_error": ("server_error", 500),
    "temporarily_unavailable": ("temporarily_unavailable", 503),
}


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.error, self.status, self.headers = error, status, headers or {}


class ClientCredentialsGrant:
    """The grant's logic, apart from HTTP: authenticate, check scopes, ask the issuer."""

    def __init__(self, issuer: IssuerClient, clients: ClientRegistry, *, issuer_base_url: str) -> None:
        self.issuer = issuer
        self.clients = clients
        self.issuer_base_url = issuer_base_url

    def authenticate(self, authorization: str | None, form: dict[str, str]) -> RegisteredClient:
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError("invalid_request", "malformed Basic credentials") from None
            raw_id, _, raw_secret = decoded.partition(":")
            client_id, secret = unquote(raw_id), unquote(raw_secret)  # RFC 6749 §2.3.1: form-encoded
        client = self.clients.find(client_id)
        if client is None or secret is None or not client.authenticates(secret):
            raise OAuthError("invalid_client", "client authentication failed", 401, {"WWW-Authenticate": 'Basic realm="token"'})
        return client

    def grant(self, client: RegisteredClient, form: dict[str, str], remote_ip: str) -> dict[str, Any]:
        if form.get("grant_type") != "client_credentials":
            raise OAuthError("unsupported_grant_type", "this endpoint issues client_credentials tokens only")
        requested = form.get("scope", "").split() or sorted(client.scopes)
        refused = sorted(set(requested) - client.scopes)
        if refused:
            raise OAuthError("invalid_scope", f"scope not allowed for this client: {' '.join(refused)}")
        audience = [client.audience]
        event = {
            "request": {"ip": remote_ip, "auth": {"audience": audience, "scope": requested}},
            "context": {
                "domains": {"kindeDomain": self.issuer_base_url},
                "workflow": {"trigger": "m2m:token_generation"},
                "application": {"clientId": client.client_id},
            },
        }
        request = token_request(
            trigger="m2m:token_generation", event=event, client_id=client.client_id, audience=audience, scope=requested
        )
        try:
            return self.issuer.request_tokens(request).oauth_body()
        except IssuerRefusedError as refused_by_issuer:
            error, status = _OAUTH_ERROR.get(refused_by_issuer.error_code, ("server_error", 500))
            raise OAuthError(error, refused_by_issuer.description, status) from None
        except IssuerUnavailableError as unavailable:
            raise OAuthError("temporarily_unavailable", unavailable.description, 503) from None


class TokenEndpoint:
    def __init__(self, grant: ClientCredentialsGrant, *, port: int = 0) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(grant))
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/oauth/token"

    def start(self) -> TokenEndpoint:
        threading.Thread(target=self._server.serve_forever, name="oauth-token-endpoint", daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(grant: ClientCredentialsGrant) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for key, value in {
                "Content-Type": "application/json",
                "Cache-Control": "no-store",
                "Pragma": "no-cache",
                **(headers or {}),
            }.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
            try:
                if self.path != "/oauth/token":
                    raise OAuthError("invalid_request", "POST /oauth/token", 404)
                if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                    raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
                form = dict(parse_qsl(body))
                client = grant.authenticate(self.headers.get("Authorization"), form)
                self._json(200, grant.grant(client, form, self.client_address[0]))
            except OAuthError as error:
                self._json(error.status, {"error": error.error, "error_description": str(error)}, error.headers)

    return Handler
