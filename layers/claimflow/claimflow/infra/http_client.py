"""The HTTP port workflows fetch through, and a stub for unit tests.

The real adapter (``claimflow.infra.guarded_http_client.RequestsHttpClient``) adds pooling, the
address guard and the size cap; ``fetch`` (core) adds bindings, URL policy and parsing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["HttpClient", "HttpRequest", "HttpResponse", "Resolver", "StubHttpClient"]

#: Name resolution as ``socket.getaddrinfo(host, port, ...)`` does it: the adapter's DNS hook.
#: Tests pass their own to decide what a host resolves to; the address guard checks the answer.
Resolver = Callable[..., list[Any]]


@dataclass(frozen=True)
class HttpRequest:
    """One request. ``timeout`` bounds it whole: connect, headers and body together.
    ``allowed_hosts`` is the url binding's allowlist, re-applied by the adapter to the URL it
    will actually connect to."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    timeout: float = 5.0
    max_bytes: int = 1 << 20
    allowed_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


class HttpClient(Protocol):
    def send(self, request: HttpRequest) -> HttpResponse:
        """Send one request (no redirects followed) within ``request.timeout``; raise
        FetchError on transport failure or timeout, EgressDeniedError on a refused address."""
        ...


Responder = HttpResponse | Exception | Callable[[HttpRequest], HttpResponse]


class StubHttpClient:
    """Answers from a table keyed by (method, url); records every request it is sent."""

    def __init__(self, routes: Mapping[tuple[str, str], Responder] | None = None) -> None:
        self.routes: dict[tuple[str, str], Responder] = dict(routes or {})
        self.requests: list[HttpRequest] = []

    def send(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        answer = self.routes.get((request.method, request.url))
        if answer is None:
            return HttpResponse(404, {"Content-Type": "text/plain"}, b"no stub route")
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer
