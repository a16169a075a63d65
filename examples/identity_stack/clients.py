"""Registered OAuth clients, kept in SSM: one SecureString per client holding its secret and
the scopes and audience it may ask for. Secrets are compared in constant time, never logged.

The whole directory is read in one by-path call and cached for the store's TTL, so a flood of
made-up ``client_id``s costs no SSM call at all: an unknown id is answered from the cached
directory (negative caching for free), and the cache holds one entry whatever ids arrive.
"""

from __future__ import annotations

import hmac
import json
import time
from dataclasses import dataclass, field

from claimflow.infra.parameters import ParameterStore


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    secret: str = field(repr=False)
    scopes: frozenset[str]
    audience: str

    def authenticates(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret.encode(), secret.encode())


class ClientRegistry:
    def __init__(self, store: ParameterStore, *, stage: str, prefix: str = "/claimflow", wait_seconds: float = 2.0) -> None:
        self._store = store
        self._base = f"{prefix}/{stage}/example-clients"
        self._wait = wait_seconds

    def find(self, client_id: str) -> RegisteredClient | None:
        """The client, or None; raises ParameterStoreError when SSM cannot answer and nothing is cached."""
        directory = self._store.get_by_path(self._base, deadline=time.monotonic() + self._wait)
        parameter = directory.get(client_id) if client_id and "/" not in client_id else None
        if parameter is None:
            return None
        record = json.loads(parameter.value)
        return RegisteredClient(client_id, record["secret"], frozenset(record["scopes"]), record["audience"])

    def register(self, client_id: str, *, secret: str, scopes: list[str], audience: str) -> None:
        record = {"secret": secret, "scopes": scopes, "audience": audience}
        self._store.put(f"{self._base}/{client_id}", json.dumps(record), secret=True)
