"""The local stand-in for the third-party APIs workflows call: the routes of
``local/third_party.yaml`` on loopback, for ``make dev``, ``make demo``, ``preview`` and the
testing kit alike (the tutorial's two routes are entries of the shipped file).

A route declares a method, a path whose ``{name}`` parts match one path segment each, and the
answer: status, a JSON or text body (``{name}`` in its strings is the matched segment), headers
and a delay. ``when.headers`` restricts a route to requests carrying those header values
(``null`` in a list of values: the header may be absent). Routes are tried in file order; the
first that matches answers. A request no route matches answers 404 JSON naming the file.

Tests and benchmarks can also inject latency and failures, and the stand-in counts requests
and TCP connections (so benchmarks can prove keep-alive).
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimflow_local.loopback import LoopbackHandler, LoopbackServer

__all__ = ["ROUTES_FILE", "Answer", "Route", "RouteTable", "RoutesError", "StubThirdPartyApi", "answer_from", "tutorial_routes"]

#: Where a project declares the routes of its stand-in, relative to its root.
ROUTES_FILE = "local/third_party.yaml"
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FIELDS = frozenset({"method", "path", "status", "json", "text", "headers", "delay_ms", "when"})


class RoutesError(Exception):
    """The routes file is not one the stand-in can serve; the message names the file, the route and the field."""


def _fill(value: Any, parameters: Mapping[str, str]) -> Any:
    """``value`` with ``{name}`` in its strings replaced by the matched path segments."""
    if isinstance(value, str):
        return _PARAMETER.sub(lambda m: parameters.get(m[1], m[0]), value)
    if isinstance(value, list):
        return [_fill(item, parameters) for item in value]
    if isinstance(value, dict):
        return {_fill(key, parameters): _fill(item, parameters) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class Route:
    """One declared answer: ``method path`` (with ``{params}``) → status, body, headers, delay."""

    method: str
    path: str
    status: int = 200
    json: Any = None
    text: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_ms: float = 0.0
    #: Header name (lower case) → the values the request must carry (None: absent).
    when_headers: Mapping[str, tuple[str | None, ...]] = field(default_factory=dict)

    @property
    def pattern(self) -> re.Pattern[str]:
        parts = _PARAMETER.split(self.path)  # literal, name, literal, name, ...
        regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
        return re.compile(f"^{regex}$")

    def match(self, method: str, path: str, headers: Mapping[str, str]) -> dict[str, str] | None:
        """The path parameters, when this route answers the request; None otherwise."""
        if method != self.method and not (method == "HEAD" and self.method == "GET"):
            return None
        found = self.pattern.match(path)
        if found is None:
            return None
        sent = {name.lower(): value for name, value in headers.items()}
        for name, allowed in self.when_headers.items():
            if sent.get(name) not in allowed:
                return None
        return found.groupdict()

    def answer(self, parameters: Mapping[str, str]) -> tuple[int, bytes, dict[str, str]]:
        if self.text is not None:
            body, kind = _fill(self.text, parameters).encode(), "text/plain; charset=utf-8"
        else:
            body, kind = json.dumps(_fill(self.json, parameters)).encode(), "application/json"
        return self.status, body, {"Content-Type": kind, **_fill(dict(self.headers), parameters)}


def _route(entry: Any, where: str) -> Route:
    if not isinstance(entry, dict):
        raise RoutesError(f"{where}: a route is a mapping with method, path and an answer (status, json or text)")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise RoutesError(f"{where}: unknown field {unknown[0]!r}; a route has {', '.join(sorted(_FIELDS))}")
    method = str(entry.get("method", "GET")).upper()
    if method not in _METHODS:
        raise RoutesError(f"{where}: method {method!r}; use one of {', '.join(_METHODS)}")
    path = entry.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise RoutesError(f"{where}: path {path!r} must start with / (e.g. /api/plan/{{id}})")
    status = entry.get("status", 200)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise RoutesError(f"{where}: status {status!r} must be an HTTP status from 100 to 599")
    if "json" in entry and "text" in entry:
        raise RoutesError(f"{where}: give the body once, as json or as text")
    text = entry.get("text")
    if text is not None and not isinstance(text, str):
        raise RoutesError(f"{where}: text must be a string (use json for a structured body)")
    headers = entry.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, (str, int)) for v in headers.values()):
        raise RoutesError(f"{where}: headers must map names to strings")
    delay = entry.get("delay_ms", 0)
    if not isinstance(delay, (int, float)) or not 0 <= delay <= 60_000:
        raise RoutesError(f"{where}: delay_ms {delay!r} must be a number of milliseconds from 0 to 60000")
    when = entry.get("when") or {}
    if not isinstance(when, dict) or set(when) - {"headers"} or not isinstance(when.get("headers", {}), dict):
        raise RoutesError(f"{where}: when takes headers: {{Name: value, or a list of values (null: absent)}}")
    when_headers = {
        str(name).lower(): tuple(None if v is None else str(v) for v in (values if isinstance(values, list) else [values]))
        for name, values in when.get("headers", {}).items()
    }
    return Route(
        method,
        path,
        status,
        entry.get("json"),
        text,
        {str(k): str(v) for k, v in headers.items()},
        float(delay),
        when_headers,
    )


@dataclass(frozen=True)
class RouteTable:
    """The routes of one file, in the order they are tried."""

    routes: tuple[Route, ...]
    source: str = ROUTES_FILE  # how answers name the file to add a route to

    @classmethod
    def load(cls, path: Path, *, name: str = ROUTES_FILE) -> RouteTable:
        """The routes of ``path`` (no file: no routes, and every request is told where to add one)."""
        import yaml

        if not path.exists():
            return cls((), name)
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise RoutesError(f"{name}: not YAML the stand-in can read: {' '.join(str(error).split())}") from None
        keys = document if isinstance(document, dict) else {}
        extra = sorted(str(k) for k in keys if k != "routes" and not str(k).startswith("x-"))
        if extra:
            raise RoutesError(f"{name}: unknown key {extra[0]!r}; the file holds routes: (and x-... keys for YAML anchors)")
        entries = document.get("routes", []) if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise RoutesError(f"{name}: expected `routes:` with a list of routes")
        return cls(tuple(_route(entry, f"{name} route {i + 1}") for i, entry in enumerate(entries)), name)

    def find(self, method: str, path: str, headers: Mapping[str, str]) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            parameters = route.match(method, path, headers)
            if parameters is not None:
                return route, parameters
        return None

    def not_found(self, method: str, path: str) -> dict[str, Any]:
        """The 404 body of a request no route answers: what to add, and where."""
        return {
            "error": "no_route",
            "error_description": (
                f"{method} {path} is not a route of the local third-party stand-in: add it to {self.source} "
                "(method, path, status, json or text)"
            ),
            "routes": [f"{route.method} {route.path}" for route in self.routes],
        }


def tutorial_routes(
    *, api_key: str | None, subscribers: Iterable[str], organizations: Mapping[str, str] | None = None
) -> RouteTable:
    """The tutorial's API as routes, for tests and benchmarks that pick their own key and users
    (``local/third_party.yaml`` declares the same for the shipped demo values): ``GET
    /api/user/{id}`` answers ``{id, lifetime_subscriber}`` to no key or the right one, 401 to a
    wrong one; ``GET /api/clients/{id}`` answers the client's ``org_code`` or 404."""
    key: dict[str, tuple[str | None, ...]] = {"authorization": (None, f"Bearer {api_key}")} if api_key else {}
    routes = [
        *(
            Route("GET", f"/api/user/{user}", json={"id": user, "lifetime_subscriber": True}, when_headers=key)
            for user in subscribers
        ),
        Route("GET", "/api/user/{id}", json={"id": "{id}", "lifetime_subscriber": False}, when_headers=key),
        Route("GET", "/api/user/{id}", status=401, json={"error": "bad api key"}),
        *(
            Route("GET", f"/api/clients/{client}", json={"client_id": client, "org_code": org})
            for client, org in (organizations or {}).items()
        ),
        Route("GET", "/api/clients/{id}", status=404, json={"error": "unknown client"}),
    ]
    return RouteTable(tuple(routes), "tutorial_routes()")


@dataclass
class _Behaviour:
    routes: RouteTable
    delay_ms: float = 0.0
    failure_rate: float = 0.0
    status: int | None = None  # force every answer to this status
    raw_body: bytes | None = None  # force every answer to this body (e.g. not JSON)
    requests: int = 0
    connections: int = 0
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    #: Told of each request no route answers (make dev prints it): method, path.
    on_unrouted: Callable[[str, str], None] | None = None


class StubThirdPartyApi:
    """The stand-in: ``routes`` (a file's), or the tutorial's API for the key and users given."""

    def __init__(
        self,
        *,
        routes: RouteTable | None = None,
        api_key: str | None = None,
        subscribers: Iterable[str] = (),
        organizations: dict[str, str] | None = None,
        port: int = 0,
        on_unrouted: Callable[[str, str], None] | None = None,
    ) -> None:
        if routes is None:
            routes = tutorial_routes(api_key=api_key, subscribers=subscribers, organizations=organizations)
        table = routes
        self.behaviour = _Behaviour(routes=table, on_unrouted=on_unrouted)
        self._server = LoopbackServer(_handler(self.behaviour), port=port)

    @property
    def url(self) -> str:
        return self._server.base_url

    @property
    def routes(self) -> RouteTable:
        return self.behaviour.routes

    def start(self) -> StubThirdPartyApi:
        self._server.start("stub-api")
        return self

    def stop(self) -> None:
        self._server.stop()

    def configure(self, **changes: Any) -> None:
        for name, value in changes.items():
            if not hasattr(self.behaviour, name):
                raise AttributeError(f"the stub has no setting {name!r}")
            setattr(self.behaviour, name, value)

    @property
    def requests(self) -> int:
        return self.behaviour.requests

    @property
    def connections(self) -> int:
        return self.behaviour.connections

    def reset_counters(self) -> None:
        with self.behaviour.lock:
            self.behaviour.requests = 0
            self.behaviour.connections = 0
            self.behaviour.seen_headers.clear()


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: Mapping[str, str]
    delay_ms: float = 0.0
    routed: bool = True  # False: no route matched (the 404 names the file)


def answer_from(routes: RouteTable, method: str, raw_path: str, headers: Mapping[str, str]) -> Answer:
    """What ``routes`` answer a request (the query string plays no part in matching)."""
    path = raw_path.split("?", 1)[0]
    found = routes.find(method, path, headers)
    if found is None:
        body = json.dumps(routes.not_found(method, path)).encode()
        return Answer(404, body, {"Content-Type": "application/json"}, routed=False)
    route, parameters = found
    status, body, answer_headers = route.answer(parameters)
    return Answer(status, body, answer_headers, route.delay_ms)


def _handler(behaviour: _Behaviour) -> type[LoopbackHandler]:
    class Handler(LoopbackHandler):
        def setup(self) -> None:
            super().setup()
            with behaviour.lock:
                behaviour.connections += 1

        def _serve(self) -> None:
            if self.body_or_reply() is None:
                return
            with behaviour.lock:
                behaviour.requests += 1
                behaviour.seen_headers.append(dict(self.headers.items()))
                fail = behaviour.failure_rate and behaviour.rng.random() < behaviour.failure_rate
            if behaviour.delay_ms:
                time.sleep(behaviour.delay_ms / 1000)
            if behaviour.raw_body is not None:
                self.send(behaviour.status or 200, behaviour.raw_body, {"Content-Type": "application/json"})
                return
            if behaviour.status is not None or fail:
                self.send(behaviour.status or 500, b'{"error":"injected failure"}', {"Content-Type": "application/json"})
                return
            answer = answer_from(behaviour.routes, self.command, self.path, dict(self.headers.items()))
            if answer.delay_ms:
                time.sleep(answer.delay_ms / 1000)
            if not answer.routed and behaviour.on_unrouted is not None:
                behaviour.on_unrouted(self.command, self.path)
            self.send(answer.status, answer.body, answer.headers)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    return Handler
