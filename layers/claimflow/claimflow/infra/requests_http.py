"""The real HTTP adapter: one pooled ``requests`` session per container, guarded.

Every new connection resolves its host, refuses it if any address is private, loopback,
link-local or metadata (unless local mode allows private ones), and then connects to the
address it checked, so a DNS answer cannot change between the check and the connection.
Bodies are read up to a cap and within a total deadline, not just a per-read timeout.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from claimflow.errors import EgressDeniedError, FetchError
from claimflow.infra.egress import address_refusal
from claimflow.infra.http import HttpRequest, HttpResponse

__all__ = ["RequestsHttpClient"]

_CHUNK = 64 * 1024


class _AddressRefused(Exception):
    """Raised inside urllib3 and turned into EgressDeniedError by the client."""


Resolver = Callable[..., list[Any]]


def _checked_address(host: str, port: int, allow_private: bool, resolve: Resolver) -> str:
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise OSError(f"cannot resolve {host}: {error}") from error
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    for address in addresses:
        refusal = address_refusal(address, allow_private=allow_private)
        if refusal:
            raise _AddressRefused(f"{host} resolves to {refusal}")
    return str(addresses[0])


def _guarded(connection_class: type[HTTPConnection], allow_private: bool, resolve: Resolver) -> type[HTTPConnection]:
    class GuardedConnection(connection_class):  # type: ignore[valid-type,misc]
        def _new_conn(self) -> socket.socket:
            name: str = self._dns_host  # type: ignore[has-type]
            self._dns_host = _checked_address(name, self.port, allow_private, resolve)
            try:
                return super()._new_conn()  # type: ignore[no-any-return]
            finally:
                self._dns_host = name  # TLS verifies and sends SNI for the name, not the address

    return GuardedConnection


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, *, allow_private: bool, pool_maxsize: int, resolve: Resolver) -> None:
        self._allow_private = allow_private
        self._resolve = resolve
        super().__init__(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        allow, resolve = self._allow_private, self._resolve

        class Pool(HTTPConnectionPool):
            ConnectionCls = _guarded(HTTPConnection, allow, resolve)

        class TlsPool(HTTPSConnectionPool):
            ConnectionCls = _guarded(HTTPSConnection, allow, resolve)  # type: ignore[assignment]

        self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TlsPool}


class RequestsHttpClient:
    """``HttpClient`` over a keep-alive ``requests.Session``; one per container."""

    def __init__(self, *, allow_private: bool = False, pool_maxsize: int = 10, resolve: Resolver = socket.getaddrinfo) -> None:
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy or netrc surprises on the login path
        adapter = _GuardedAdapter(allow_private=allow_private, pool_maxsize=pool_maxsize, resolve=resolve)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def send(self, request: HttpRequest) -> HttpResponse:
        deadline = time.monotonic() + request.timeout
        try:
            response = self.session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                timeout=(min(request.timeout, 3.0), request.timeout),
                allow_redirects=False,
                stream=True,
            )
        except _AddressRefused as refused:
            raise EgressDeniedError(request.url, f"refused: {refused}") from None
        except requests.Timeout:
            raise FetchError(request.url, f"timed out after {request.timeout:.1f}s") from None
        except requests.RequestException as error:
            cause = error.__context__ if isinstance(error.__context__, _AddressRefused) else None
            if cause is not None:
                raise EgressDeniedError(request.url, f"refused: {cause}") from None
            raise FetchError(request.url, f"request failed: {type(error).__name__}: {error}") from None
        with response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > request.max_bytes:
                raise FetchError(request.url, f"response of {declared} bytes exceeds the {request.max_bytes}-byte cap")
            body = bytearray()
            try:
                for chunk in response.iter_content(_CHUNK):
                    body += chunk
                    if len(body) > request.max_bytes:
                        raise FetchError(request.url, f"response exceeds the {request.max_bytes}-byte cap")
                    if time.monotonic() > deadline:
                        raise FetchError(request.url, f"timed out after {request.timeout:.1f}s reading the body")
            except requests.RequestException as error:
                raise FetchError(request.url, f"reading the body failed ({type(error).__name__}: {error})") from None
            return HttpResponse(response.status_code, dict(response.headers), bytes(body))
