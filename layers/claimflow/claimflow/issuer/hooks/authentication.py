"""How an identity stack proves a claims-hook call is its own, before anything runs.

- ``Signature``: HMAC-SHA256 over ``"<unix seconds>.<raw body>"`` in a header
  ``t=<seconds>,v1=<hex>[,v1=<hex>…]`` (Zitadel's ``ZITADEL-Signature`` scheme, used for our
  generic hook as ``X-Claimflow-Signature``): a timestamp outside the tolerance is refused, and,
  for the generic hook (whose calls carry a ``correlation_id``), a signature already seen within
  it is a replay and refused too.
- ``ApiKey``: a shared secret in a header (Ory Hydra's only option: ``auth.type: api_key``),
  or ``Authorization: Bearer <secret>``; compared in constant time.

Secrets come from the parameter store (SecureString at ``/claimflow/<stage>/hooks/<name>/secret``)
and are registered for redaction like every secret the container reads.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from claimflow.issuer.errors import HookAuthenticationError

__all__ = ["ApiKey", "Signature", "sign_body"]


def sign_body(secret: str, body: bytes, *, now: int) -> str:
    """The signature header value a caller sends (for callers, tests and the examples)."""
    digest = hmac.new(secret.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={now},v1={digest}"


@dataclass
class Signature:
    header: str
    tolerance_seconds: int = 300
    #: Refuse a signature seen before within the tolerance. For callers whose every call differs
    #: (the generic shape carries a correlation_id); Zitadel's identical calls within a second
    #: are legitimate, and its SDK checks only the timestamp.
    refuse_replays: bool = True
    clock: Callable[[], float] = time.time
    _seen: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        value = _header(headers, self.header)
        if value is None:
            raise HookAuthenticationError(f"missing {self.header} header")
        pairs = [part.split("=", 1) for part in value.split(",") if "=" in part]
        stamps = [v for k, v in pairs if k.strip() == "t"]
        signatures = [v.strip() for k, v in pairs if k.strip() == "v1"]
        if len(stamps) != 1 or not stamps[0].strip().isdigit() or not signatures:
            raise HookAuthenticationError(f"{self.header} must be t=<unix seconds>,v1=<hex HMAC-SHA256>")
        stamp = int(stamps[0])
        now = self.clock()
        if abs(now - stamp) > self.tolerance_seconds:
            raise HookAuthenticationError(
                f"{self.header} timestamp is {int(now - stamp)} s away; the limit is {self.tolerance_seconds} s"
            )
        expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        matching = next((s for s in signatures if hmac.compare_digest(s, expected)), None)
        if matching is None:
            raise HookAuthenticationError(f"{self.header} does not match the body")
        if not self.refuse_replays:
            return
        with self._lock:  # a signature is good once: a replay within the tolerance is refused
            self._seen = {s: t for s, t in self._seen.items() if now - t <= self.tolerance_seconds}
            if matching in self._seen:
                raise HookAuthenticationError(f"{self.header} was already used (a replay)")
            self._seen[matching] = now


@dataclass(frozen=True)
class ApiKey:
    header: str  # e.g. X-API-Key; "Authorization" expects "Bearer <secret>"

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        value = _header(headers, self.header)
        if value is not None and self.header.lower() == "authorization":
            value = value.removeprefix("Bearer ").removeprefix("bearer ")
        if value is None or not hmac.compare_digest(value.encode(), secret.encode()):
            raise HookAuthenticationError(f"missing or wrong {self.header}")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)
