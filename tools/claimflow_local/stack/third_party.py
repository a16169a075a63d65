"""A loopback stand-in for the seed's third-party API: ``GET /api/user/{id}`` answers
``{"id", "lifetime_subscriber"}``; ``GET /api/clients/{id}`` answers the client's ``org_code``
(the M2M example's directory) or 404. Latency and failures can be injected, and it counts
requests and TCP connections (so benchmarks can prove keep-alive).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from claimflow_local.loopback import LoopbackHandler, LoopbackServer

__all__ = ["StubThirdPartyApi"]


@dataclass
class _Behaviour:
    api_key: str | None
    subscribers: set[str]
    organizations: dict[str, str] = field(default_factory=dict)  # client id -> org code
    delay_ms: float = 0.0
    failure_rate: float = 0.0
    status: int | None = None  # force every answer to this status
    raw_body: bytes | None = None  # force every answer to this body (e.g. not JSON)
    requests: int = 0
    connections: int = 0
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=lambda: random.Random(7))


class StubThirdPartyApi:
    def __init__(
        self,
        *,
        api_key: str | None = None,
        subscribers: Iterable[str] = (),
        organizations: dict[str, str] | None = None,
        port: int = 0,
    ) -> None:
        self.behaviour = _Behaviour(api_key=api_key, subscribers=set(subscribers), organizations=dict(organizations or {}))
        self._server = LoopbackServer(_handler(self.behaviour), port=port)

    @property
    def url(self) -> str:
        return self._server.base_url

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


def _handler(behaviour: _Behaviour) -> type[LoopbackHandler]:
    class Handler(LoopbackHandler):
        def setup(self) -> None:
            super().setup()
            with behaviour.lock:
                behaviour.connections += 1

        def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send(status, body, {"Content-Type": content_type})

        def do_GET(self) -> None:
            if self.body_or_reply() is None:
                return
            with behaviour.lock:
                behaviour.requests += 1
                behaviour.seen_headers.append(dict(self.headers.items()))
                fail = behaviour.failure_rate and behaviour.rng.random() < behaviour.failure_rate
            if behaviour.delay_ms:
                time.sleep(behaviour.delay_ms / 1000)
            if behaviour.raw_body is not None:
                self._answer(behaviour.status or 200, behaviour.raw_body)
                return
            if behaviour.status is not None or fail:
                self._answer(behaviour.status or 500, b'{"error":"injected failure"}')
                return
            if self.path.startswith("/api/clients/"):
                client_id = self.path[len("/api/clients/") :]
                org_code = behaviour.organizations.get(client_id)
                if org_code is None:
                    self._answer(404, b'{"error":"unknown client"}')
                else:
                    self._answer(200, json.dumps({"client_id": client_id, "org_code": org_code}).encode())
                return
            if not self.path.startswith("/api/user/"):
                self._answer(404, b'{"error":"not found"}')
                return
            authorization = self.headers.get("Authorization")
            if authorization is not None and behaviour.api_key and authorization != f"Bearer {behaviour.api_key}":
                self._answer(401, b'{"error":"bad api key"}')
                return
            user_id = self.path[len("/api/user/") :]
            body = {"id": user_id, "lifetime_subscriber": user_id in behaviour.subscribers}
            self._answer(200, json.dumps(body).encode())

    return Handler
