"""How an identity stack proves a claims-hook call is its own, before anything runs.

- ``Signature``: HMAC-SHA256 over ``"<unix seconds>.<raw body>"`` in a header
  ``t=<seconds>,v1=<hex>[,v1=<hex>…]`` (Zitadel's ``ZITADEL-Signature`` scheme, used for our
  generic hook as ``X-Claimflow-Signature``). A timestamp older than the tolerance (300 s), or
  more than a small skew (30 s) ahead of the clock, is refused. Where each call differs (the
  generic hook's carry a ``correlation_id``), the call is also good once: ``verify`` answers a
  ``SingleUse`` (the signature, until its timestamp goes stale), which the endpoint records in
  the replay store every container shares.
- ``ApiKey``: a shared secret in a header (Ory Hydra's only option: ``auth.type: api_key``),
  or ``Authorization: Bearer <secret>``; compared in constant time, length included.

Every header is parsed with bounded work and every malformed one is a ``HookAuthenticationError``
(a 401), whatever it holds. Its message is for the log, never for the caller. Secrets come from
the parameter store (SecureString at ``/claimflow/<stage>/hooks/<name>/secret``) and are
registered for redaction like every secret the container reads.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from claimflow.issuer.errors import HookAuthenticationError
from claimflow.issuer.hooks.replay import SingleUse

__all__ = ["MAX_HEADER_CHARS", "ApiKey", "Signature", "header_value", "parse_signature_header", "sign_body"]

#: Longer authentication headers are refused unread (a signature header with one v1 is ~80).
MAX_HEADER_CHARS = 1024
MAX_SIGNATURES = 8  # v1 entries in one header (one per signing key the stack holds)
_STAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: str.isdigit() also takes "²", which int() refuses
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


def sign_body(secret: str, body: bytes, *, now: int) -> str:
    """The signature header value a caller sends (for callers, tests and the examples)."""
    return f"t={now},v1={_digest(secret, now, body)}"


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """The one value of header ``name`` (any case); ``HookAuthenticationError`` if it is given
    twice under different cases (which one a proxy forwards is anyone's guess) or is not text."""
    found = [value for key, value in headers.items() if isinstance(key, str) and key.lower() == name.lower()]
    if len(found) > 1:
        raise HookAuthenticationError(f"{name} is given {len(found)} times")
    if found and not isinstance(found[0], str):
        raise HookAuthenticationError(f"{name} is not text")
    return found[0] if found else None


def parse_signature_header(value: str, *, header: str) -> tuple[int, tuple[str, ...]]:
    """(t, the v1 signatures) of ``t=<unix seconds>,v1=<hex>[,v1=<hex>…]``, as Zitadel's SDK
    reads it (pairs on ``,``, then ``=``; unknown names ignored); ``HookAuthenticationError`` for
    anything else."""
    shape = f"{header} must be t=<unix seconds>,v1=<hex HMAC-SHA256>"
    if len(value) > MAX_HEADER_CHARS:
        raise HookAuthenticationError(f"{shape} (it has {len(value)} characters)")
    stamps: list[str] = []
    signatures: list[str] = []
    for part in value.split(","):
        name, equals, item = part.partition("=")
        if not equals:
            raise HookAuthenticationError(f"{shape} (a part has no '=')")
        name, item = name.strip(), item.strip()
        if name == "t":
            stamps.append(item)
        elif name == "v1":
            signatures.append(item.lower())
    if len(stamps) != 1 or not _STAMP.fullmatch(stamps[0]):
        raise HookAuthenticationError(f"{shape} (t must be given once, as up to 12 ASCII digits)")
    if not signatures or len(signatures) > MAX_SIGNATURES or not all(_HEX_SHA256.fullmatch(s) for s in signatures):
        raise HookAuthenticationError(f"{shape} (1 to {MAX_SIGNATURES} v1 values, 64 hex digits each)")
    return int(stamps[0]), tuple(signatures)


@dataclass
class Signature:
    header: str
    tolerance_seconds: int = 300  # how old a timestamp may be
    max_skew_seconds: int = 30  # how far ahead of this clock a timestamp may be
    #: Answer a ``SingleUse``, so that the endpoint refuses a call already seen. For callers whose
    #: every call differs (the generic shape carries a correlation_id). Zitadel sends identical
    #: calls within a second and retries with the same signature; its SDK checks only the
    #: timestamp (docs/identity-stacks/authentication.md).
    refuse_replays: bool = True
    clock: Callable[[], float] = time.time

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> SingleUse | None:
        value = header_value(headers, self.header)
        if value is None:
            raise HookAuthenticationError(f"missing {self.header} header")
        stamp, signatures = parse_signature_header(value, header=self.header)
        now = self.clock()
        if stamp > now + self.max_skew_seconds:
            raise HookAuthenticationError(
                f"{self.header} timestamp is {stamp - now:.0f} s ahead of the clock; the limit is {self.max_skew_seconds} s"
            )
        if now - stamp > self.tolerance_seconds:
            raise HookAuthenticationError(
                f"{self.header} timestamp is {now - stamp:.0f} s old; the limit is {self.tolerance_seconds} s"
            )
        expected = _digest(secret, stamp, body)
        if not any(hmac.compare_digest(signature, expected) for signature in signatures):
            raise HookAuthenticationError(f"{self.header} does not match the body")
        # Good until the timestamp goes stale, counted from the signed time (never from arrival).
        return SingleUse(key=expected, until=stamp + self.tolerance_seconds) if self.refuse_replays else None


@dataclass(frozen=True)
class ApiKey:
    header: str  # e.g. X-API-Key; "Authorization" expects "Bearer <secret>"

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        value = header_value(headers, self.header)
        if value is not None and self.header.lower() == "authorization":
            scheme, _, token = value.partition(" ")
            value = token.strip() if scheme.lower() == "bearer" else None
        if value is None or len(value) > MAX_HEADER_CHARS or not _same(value, secret):
            raise HookAuthenticationError(f"missing or wrong {self.header}")


def _digest(secret: str, stamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()


def _same(given: str, secret: str) -> bool:
    """Constant time whatever the lengths (``compare_digest`` on the raw values tells them apart)."""
    digest = hashlib.sha256
    return hmac.compare_digest(digest(given.encode(errors="replace")).digest(), digest(secret.encode()).digest())
