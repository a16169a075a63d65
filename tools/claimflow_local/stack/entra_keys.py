"""A loopback stand-in for what Microsoft Entra publishes that the entra claims hook reads: the
tenant's signing keys (``GET /discovery/v2.0/keys``, a JWKS). Its key is ``local/settings.json``'s
``hooks.entra.caller_key`` (a demo key), whose private half signs the bearer tokens that
``claimflow_local.hook_callers`` makes for local calls, as Entra signs the token it sends its
custom authentication extension. The stack points the hook's configuration at it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from claimflow_local.loopback import LoopbackHandler, LoopbackServer

__all__ = ["KEYS_PATH", "EntraKeysStandIn", "public_jwk"]

KEYS_PATH = "/discovery/v2.0/keys"
_PRIVATE = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def public_jwk(key: Mapping[str, Any]) -> dict[str, Any]:
    """``key`` without its private members."""
    return {name: value for name, value in key.items() if name not in _PRIVATE}


class EntraKeysStandIn:
    def __init__(self, caller_key: Mapping[str, Any], *, port: int = 0) -> None:
        body = json.dumps({"keys": [public_jwk(caller_key)]}).encode()

        class Handler(LoopbackHandler):
            def do_GET(self) -> None:
                if self.body_or_reply() is None:
                    return
                if self.path.split("?", 1)[0] == KEYS_PATH:
                    self.send(200, body, {"Content-Type": "application/json"})
                else:
                    self.send_json(404, {"error": "not_found"})

        self._server = LoopbackServer(Handler, port=port)

    @classmethod
    def for_settings(cls, settings: Mapping[str, Any]) -> EntraKeysStandIn | None:
        """The stand-in for ``settings``' entra hook, if it has a ``caller_key``."""
        key = settings.get("hooks", {}).get("entra", {}).get("caller_key")
        return cls(key) if key else None

    @property
    def jwks_url(self) -> str:
        return f"{self._server.base_url}{KEYS_PATH}"

    def start(self) -> EntraKeysStandIn:
        self._server.start("entra-keys")
        return self

    def stop(self) -> None:
        self._server.stop()

    def configured(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``settings`` with the entra hook's configuration pointed at these keys (unless it names its own)."""
        changed = copy.deepcopy(dict(settings))
        config = changed["hooks"]["entra"].setdefault("config", {})
        config.setdefault("jwks_url", self.jwks_url)
        return changed
