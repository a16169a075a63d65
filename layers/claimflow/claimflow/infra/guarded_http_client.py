"""The real HTTP adapter: one pooled ``requests`` session per container, guarded and bounded.

Guarded: the URL the session will actually request (after ``requests`` prepared it) is checked
again with the same guard the core used; every new connection resolves its host, refuses it if
any address is private, loopback, link-local or metadata (unless local mode allows private
ones), and connects to the address it checked, so a DNS answer cannot change in between.

Bounded: ``request.timeout`` is one deadline for everything (DNS, connect, sending, the
response headers and the whole body). Socket timeouts alone bound each receive, so a server
dripping a byte every half second would keep a request alive indefinitely; here a watchdog
shuts the connection's socket down when the deadline passes, whatever phase it is in.
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextvars import ContextVar
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from claimflow.errors import EgressDeniedError, FetchError
from claimflow.infra.egress import address_refusal, check_url
from claimflow.infra.http_client import HttpRequest, HttpResponse, Resolver

__all__ = ["RequestsHttpClient"]

_CHUNK = 16 * 1024


class _Watchdog:
    """One thread for the process that shuts sockets down at their deadlines."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._ids = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def schedule(self, deadline: float, action: Callable[[], None]) -> int:
        handle = next(self._ids)
        with self._wake:
            heapq.heappush(self._heap, (deadline, handle, action))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="claimflow-http-watchdog", daemon=True)
                self._thread.start()
            self._wake.notify()
        return handle

    def cancel(self, handle: int) -> None:
        with self._wake:
            self._cancelled.add(handle)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                deadline, handle, action = self._heap[0]
                delay = deadline - time.monotonic()
                if delay > 0 and handle not in self._cancelled:
                    self._wake.wait(delay)
                    continue
                heapq.heappop(self._heap)
                if handle in self._cancelled:
                    self._cancelled.discard(handle)
                    continue
            with contextlib.suppress(OSError):  # the socket closed on its own meanwhile
                action()


_WATCHDOG = _Watchdog()
#: The deadline (``time.monotonic()``) of the request this thread is sending, for the connection.
_DEADLINE: ContextVar[float | None] = ContextVar("claimflow_http_deadline", default=None)


def _resolve_within(resolve: Resolver, host: str, port: int, deadline: float | None) -> list[Any]:
    """``getaddrinfo`` cannot be given a timeout: run it on its own thread and stop waiting at
    the deadline."""
    if deadline is None:
        return resolve(host, port, type=socket.SOCK_STREAM)
    answer: Future[list[Any]] = Future()

    def lookup() -> None:
        try:
            answer.set_result(resolve(host, port, type=socket.SOCK_STREAM))
        except BaseException as error:
            answer.set_exception(error)

    threading.Thread(target=lookup, name="claimflow-dns", daemon=True).start()
    try:
        return answer.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        raise OSError(f"resolving {host} took past the deadline") from None


def _checked_address(host: str, port: int, allow_private: bool, resolve: Resolver) -> str:
    try:
        infos = _resolve_within(resolve, host, port, _DEADLINE.get())
    except socket.gaierror as error:
        raise OSError(f"cannot resolve {host}: {error}") from error
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    for address in addresses:
        refusal = address_refusal(address, allow_private=allow_private)
        if refusal:
            # Raised inside urllib3 (which may wrap it); the client re-raises it for the request's URL.
            raise EgressDeniedError(host, f"{host} resolves, but {refusal}")
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

        def request(self, *args: Any, **kwargs: Any) -> None:
            deadline = _DEADLINE.get()
            if deadline is not None:
                _watched.get().append(_WATCHDOG.schedule(deadline, self._cut))
            super().request(*args, **kwargs)

        def _cut(self) -> None:
            """The deadline passed: end whatever this connection is waiting for."""
            sock = self.sock
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)

    return GuardedConnection


#: Watchdog handles armed for the request this thread is sending.
_watched: ContextVar[list[int]] = ContextVar("claimflow_http_watched")


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
        self._allow_private = allow_private
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy or netrc surprises on the login path
        adapter = _GuardedAdapter(allow_private=allow_private, pool_maxsize=pool_maxsize, resolve=resolve)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def send(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        deadline = started + request.timeout
        try:
            prepared = self.session.prepare_request(
                requests.Request(request.method, request.url, headers=dict(request.headers), data=request.body)
            )
        except requests.exceptions.InvalidHeader:  # its message quotes the header value: never echo it
            raise FetchError(request.url, "a header holds a newline, a control character or leading whitespace") from None
        except requests.RequestException as error:
            raise FetchError(request.url, f"the request cannot be sent ({type(error).__name__})") from None
        # The guard again, on the URL the session will actually connect to (its own parse).
        check_url(str(prepared.url), local_mode=self._allow_private, allowed_hosts=request.allowed_hosts)
        deadline_token, watched_token = _DEADLINE.set(deadline), _watched.set([])
        try:
            return self._exchange(prepared, request, started, deadline)
        finally:
            for handle in _watched.get():
                _WATCHDOG.cancel(handle)
            _DEADLINE.reset(deadline_token)
            _watched.reset(watched_token)

    def _exchange(
        self, prepared: requests.PreparedRequest, request: HttpRequest, started: float, deadline: float
    ) -> HttpResponse:
        def timed_out() -> FetchError:
            elapsed = time.monotonic() - started
            return FetchError(request.url, f"timed out after {elapsed:.2f}s (the limit is {request.timeout:.2f}s)")

        try:
            response = self.session.send(
                prepared, timeout=(min(request.timeout, 3.0), request.timeout), allow_redirects=False, stream=True
            )
        except EgressDeniedError as refused:
            raise EgressDeniedError(request.url, f"refused: {refused.cause}") from None
        except requests.RequestException as error:
            cause = error.__context__ if isinstance(error.__context__, EgressDeniedError) else None
            if cause is not None:
                raise EgressDeniedError(request.url, f"refused: {cause.cause}") from None
            if isinstance(error, requests.Timeout) or time.monotonic() >= deadline:
                raise timed_out() from None
            raise FetchError(request.url, f"request failed: {type(error).__name__}") from None
        with response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > request.max_bytes:
                raise FetchError(request.url, f"response of {declared} bytes exceeds the {request.max_bytes}-byte cap")
            body = bytearray()
            try:
                for chunk in response.raw.stream(_CHUNK, decode_content=True):
                    body += chunk
                    if len(body) > request.max_bytes:
                        raise FetchError(request.url, f"response exceeds the {request.max_bytes}-byte cap")
                    if time.monotonic() >= deadline:
                        raise timed_out()
            except FetchError:
                raise
            except Exception as error:  # urllib3 and socket errors while reading, the watchdog's cut included
                if time.monotonic() >= deadline:
                    raise timed_out() from None
                raise FetchError(request.url, f"reading the body failed ({type(error).__name__})") from None
            return HttpResponse(response.status_code, dict(response.headers), bytes(body))
