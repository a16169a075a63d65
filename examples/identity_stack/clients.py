"""Registered OAuth clients, kept in SSM: a SecureString secret and the scopes and audience
each client may ask for. Secrets are compared in constant time and never logged."""

from __future__ import annotations

import hmac
import json
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
    def __init__(self, store: ParameterStore, *, stage: str, prefix: str = "/claimflow") -> None:
        self._store = store
        self._base = f"{prefix}/{stage}/example-clients"

    def _path(self, client_id: str) -> str:
        return f"{self._base}/{client_id}"

    def find(self, client_id: str) -> RegisteredClient | None:
        if not client_id or "/" in client_id:
            return None
        parameters = self._store.get_by_path(self._path(client_id))
        secret, profile = parameters.get("secret"), parameters.get("profile")
        if secret is None or profile is None:
            return None
        details = json.loads(profile.value)
        return RegisteredClient(client_id, secret.value, frozenset(details["scopes"]), details["audience"])

    def register(self, client_id: str, *, secret: str, scopes: list[str], audience: str) -> None:
        self._store.put(f"{self._path(client_id)}/secret", secret, secret=True)
        self._store.put(f"{self._path(client_id)}/profile", json.dumps({"scopes": scopes, "audience": audience}))
