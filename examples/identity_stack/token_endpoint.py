"""``POST /oauth/token`` for the client-credentials grant (RFC 6749 §4.4), in front of the
claimflow issuer. Client authentication: ``client_secret_basic`` or ``client_secret_post``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl, unquote

from claimflow.errors import ParameterStoreError
from claimflow.wire.client import IssuerClient, IssuerRefusedError, IssuerUnavailableError, token_request
from claimflow_local.loopback import LoopbackHandler, LoopbackServer
from identity_stack.clients import ClientRegistry, RegisteredClient

# claimflow's errors as RFC 6749 §5.2 errors (a workflow's denial: the client may not have a
# token). Only a denial's reason and a request's own fault reach the client; for the rest the
# client learns that it failed, not how (the operator has the issuer's report and logs).
_OAUTH_ERROR = {
    "access_denied": ("unauthorized_client", 400, None),
    "invalid_request": ("invalid_request", 400, None),
    "server_error": ("server_error", 500, "the token could not be issued"),
    "temporarily_unavailable": ("temporarily_unavailable", 503, "the token service is unavailable; try again"),
}


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.error, self.status, self.headers = error, status, headers or {}


class ClientCredentialsGrant:
    """The grant's logic, apart from HTTP: authenticate, check scopes, ask the issuer."""

    def __init__(self, issuer: IssuerClient | None, clients: ClientRegistry) -> None:
        self.issuer = issuer
        self.clients = clients

    def authenticate(self, authorization: str | None, form: dict[str, str]) -> RegisteredClient:
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError("invalid_request", "malformed Basic credentials") from None
            raw_id, _, raw_secret = decoded.partition(":")
            client_id, secret = unquote(raw_id), unquote(raw_secret)  # RFC 6749 §2.3.1: form-encoded
        try:
            client = self.clients.find(client_id)
        except ParameterStoreError:
            raise OAuthError("temporarily_unavailable", "the client directory is unavailable; try again", 503) from None
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
        request = token_request(
            trigger="m2m:token_generation", client_id=client.client_id, audience=[client.audience], scope=requested, ip=remote_ip
        )
        if self.issuer is None:
            raise OAuthError("temporarily_unavailable", "the token service is starting; try again", 503)
        try:
            body: dict[str, Any] = self.issuer.request_tokens(request).oauth_body()
            return body
        except IssuerRefusedError as refused_by_issuer:
            error, status, public = _OAUTH_ERROR.get(refused_by_issuer.error_code, _OAUTH_ERROR["server_error"])
            raise OAuthError(error, public or refused_by_issuer.description, status) from None
        except IssuerUnavailableError:
            raise OAuthError("temporarily_unavailable", "the token service is unavailable; try again", 503) from None


class OAuthTokenEndpoint:
    """The example identity stack's OAuth token endpoint (RFC 6749), on loopback."""

    def __init__(self, grant: ClientCredentialsGrant, *, port: int = 0) -> None:
        self.grant = grant
        self._server = LoopbackServer(_handler(grant), port=port)

    @property
    def url(self) -> str:
        return f"{self._server.base_url}/oauth/token"

    def start(self) -> OAuthTokenEndpoint:
        self._server.start("oauth-token-endpoint")
        return self

    def stop(self) -> None:
        self._server.stop()


def _handler(grant: ClientCredentialsGrant) -> type[LoopbackHandler]:
    class Handler(LoopbackHandler):
        def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            self.send_json(status, body, {"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})})

        def do_GET(self) -> None:
            if self.body_or_reply() is None:
                return
            self._json(405, {"error": "invalid_request", "error_description": "use POST"}, {"Allow": "POST"})

        do_PUT = do_DELETE = do_PATCH = do_GET

        def do_POST(self) -> None:
            raw = self.body_or_reply()
            if raw is None:
                return
            body = raw.decode("utf-8", errors="replace")
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
            except Exception:  # a bug answers as a server error, never a dropped connection
                self._json(500, {"error": "server_error", "error_description": "the token could not be issued"})

    return Handler
