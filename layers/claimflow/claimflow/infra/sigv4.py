"""AWS Signature Version 4 for the two calls on the login path (SSM reads, Lambda Invoke),
and where their credentials come from.

Why not botocore's signer: importing it and building its request objects costs the issuer
tens of milliseconds per cold start and a few hundred microseconds of CPU per call; the
algorithm is small and fixed, and ``tests/unit/test_sigv4.py`` checks every signature here
against botocore's for the same request. Credentials are Lambda's (the ``AWS_*`` variables
it sets for the function's role), read on every call; elsewhere botocore's provider chain
finds them (config files, SSO, instance roles), imported only then.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

__all__ = ["Credentials", "CredentialsProvider", "sign"]

_ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


class CredentialsProvider:
    """Static credentials when given; else the environment's; else botocore's chain."""

    def __init__(self, static: Credentials | None = None) -> None:
        self._static = static
        self._chain: Any = None
        self._lock = threading.Lock()

    def get(self) -> Credentials | None:
        if self._static is not None:
            return self._static
        access, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        if access and secret:
            return Credentials(access, secret, os.environ.get("AWS_SESSION_TOKEN") or None)
        with self._lock:
            if self._chain is None:
                import botocore.session  # only off Lambda: profiles, SSO, instance and container roles

                self._chain = botocore.session.get_session().get_credentials() or False
        if not self._chain:
            return None
        frozen = self._chain.get_frozen_credentials()  # refreshed by botocore when they expire
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token)


_keys: dict[tuple[str, str, str, str], bytes] = {}  # (secret, date, region, service) -> signing key


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    cached = _keys.get((secret, date, region, service))
    if cached is None:
        cached = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), service), "aws4_request")
        if len(_keys) > 64:  # a new day or rotated credentials: forget the old keys
            _keys.clear()
        _keys[(secret, date, region, service)] = cached
    return cached


def sign(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    *,
    credentials: Credentials,
    region: str,
    service: str,
    now: datetime.datetime | None = None,
) -> dict[str, str]:
    """``headers`` plus ``Host``, ``X-Amz-Date``, the session token and ``Authorization``;
    every header given is signed. ``url`` is as sent (its path already percent-encoded)."""
    moment = now or datetime.datetime.now(datetime.UTC)
    amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    parts = urlsplit(url)
    signed = {**headers, "Host": parts.netloc, "X-Amz-Date": amz_date}
    if credentials.token:
        signed["X-Amz-Security-Token"] = credentials.token
    canonical = {name.lower(): " ".join(str(value).split()) for name, value in signed.items()}
    names = ";".join(sorted(canonical))
    query = "&".join(sorted(parts.query.split("&"))) if parts.query else ""
    request = "\n".join(
        [
            method,
            quote(parts.path or "/", safe="/~"),  # encoded once more: SigV4 for every service but S3
            query,
            "".join(f"{name}:{canonical[name]}\n" for name in sorted(canonical)),
            names,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = f"{_ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(request.encode()).hexdigest()}"
    signature = hmac.new(_signing_key(credentials.secret_key, date, region, service), to_sign.encode(), hashlib.sha256)
    signed["Authorization"] = (
        f"{_ALGORITHM} Credential={credentials.access_key}/{scope}, SignedHeaders={names}, Signature={signature.hexdigest()}"
    )
    return signed
