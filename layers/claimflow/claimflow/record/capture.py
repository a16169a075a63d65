"""What one workflow run saw and did, gathered where it runs (``bindings.fetch`` and
``bindings.env`` report to the invocation's ``Capture``).

Light by default: each fetch's method, URL and status, for the run's log line (what
``claimflow explain`` reads for a deployed stage). Full when the issuer asks to record the
token request (``"record": true`` in the invocation): every request and answer (status,
headers, body), the names of the environment variables read (never their values), when each
claim was set, and the function's version and code hash. The full capture leaves the container
only as the reply's ``recording`` field, redacted by the container's secret registry in every
encoding it knows; credential headers are blanked whatever they hold.

Pure Python: no AWS, no HTTP library, no runtime import (the runtime imports this module).
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from claimflow.claims import CustomClaims, Reserved
from claimflow.infra.http_client import HttpRequest, HttpResponse
from claimflow.infra.secrets import REDACTED, SecretRegistry
from claimflow.tokens import TokenKind

__all__ = [
    "CREDENTIAL_HEADERS",
    "Capture",
    "RecordedClaims",
    "code_sha256",
    "decode_body",
    "encode_body",
    "function_config",
    "function_version",
]

#: Headers whose whole value is a credential: blanked in a recording whatever the registry knows.
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "set-cookie", "x-api-key"})

#: Variables Lambda, the runtime and claimflow set; a function's own configuration is the rest.
_RESERVED_PREFIXES = ("AWS_", "LAMBDA_", "_", "CLAIMFLOW_", "POWERTOOLS_", "PYTHON", "LC_", "OTEL_")
_RESERVED_NAMES = frozenset({"PATH", "HOME", "TMPDIR", "LANG", "TZ", "LD_LIBRARY_PATH", "SYSTEMROOT", "PWD", "SHLVL", "TERM"})


def encode_body(body: bytes | None) -> dict[str, Any]:
    """A body as a recording holds it: UTF-8 text when it is text, base64 otherwise."""
    if body is None:
        return {"body": None, "encoding": "utf-8"}
    try:
        return {"body": body.decode("utf-8"), "encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode(), "encoding": "base64"}


def decode_body(document: Mapping[str, Any]) -> bytes:
    """The bytes ``encode_body`` recorded."""
    body = document.get("body")
    if body is None:
        return b""
    return base64.b64decode(body) if document.get("encoding") == "base64" else str(body).encode("utf-8")


@dataclass(frozen=True)
class _Exchange:
    request: HttpRequest
    response: HttpResponse
    sensitive: frozenset[str]
    duration_ms: float


def _headers(headers: Mapping[str, str], secrets: SecretRegistry, sensitive: frozenset[str]) -> dict[str, str]:
    shown: dict[str, str] = {}
    for name, value in headers.items():
        redacted = secrets.redact(str(value))
        if name.lower() in CREDENTIAL_HEADERS | sensitive and REDACTED not in redacted:
            redacted = REDACTED  # a credential the registry does not know (typed into the code, say)
        shown[name] = redacted
    return shown


def _body(body: bytes | None, secrets: SecretRegistry) -> dict[str, Any]:
    encoded = encode_body(body)
    if encoded["encoding"] == "utf-8" and encoded["body"] is not None:
        encoded["body"] = secrets.redact(encoded["body"])
    return encoded


class Capture:
    """What one workflow run saw and did; thread-safe (a workflow may fetch from threads)."""

    __slots__ = ("_exchanges", "_expected_env", "_lock", "_started", "claims_set", "env", "fetches", "full", "misses")

    def __init__(self, *, full: bool = False, expected_env: frozenset[str] | None = None) -> None:
        """``expected_env``: in a replay, the variables the recording read; reading another is a miss."""
        self.full = full
        self._expected_env = expected_env
        self.fetches: list[tuple[str, str, int]] = []  # (method, URL, status): always
        self.env: dict[str, dict[str, bool]] = {}  # name -> {"set", "secret"}: full only
        self.claims_set: list[dict[str, Any]] = []
        self.misses: list[str] = []  # replay only: what the recording held no answer for
        self._exchanges: list[_Exchange] = []
        self._lock = threading.Lock()
        self._started = time.perf_counter()

    def fetched(self, request: HttpRequest, response: HttpResponse, *, sensitive: frozenset[str] = frozenset()) -> None:
        """One HTTP exchange (each redirect hop is one)."""
        self.fetches.append((request.method, request.url, response.status))
        if self.full:
            elapsed = (time.perf_counter() - self._started) * 1000
            with self._lock:
                self._exchanges.append(_Exchange(request, response, sensitive, round(elapsed, 3)))

    def env_read(self, name: str, *, found: bool, secret: bool) -> None:
        if self._expected_env is not None and name not in self._expected_env:
            self.miss(f"environment variable {name}")
        if self.full:
            self.env[name] = {"set": found, "secret": secret}

    def claim_set(self, token: TokenKind, name: str) -> None:
        if self.full:
            with self._lock:
                self.claims_set.append({"token": token.value, "name": name, "after_fetches": len(self._exchanges)})

    def miss(self, what: str) -> None:
        with self._lock:
            self.misses.append(what)

    def log_fields(self) -> list[dict[str, Any]]:
        """The fetches for the run's log line (URLs redacted there by the log formatter)."""
        return [{"method": method, "url": url, "status": status} for method, url, status in self.fetches]

    def document(self, secrets: SecretRegistry, *, code_dir: str | None) -> dict[str, Any]:
        """The reply's ``recording``: everything captured, redacted."""
        with self._lock:
            exchanges = list(self._exchanges)
        fetches = [
            {
                "request": {
                    "method": exchange.request.method,
                    "url": secrets.redact(exchange.request.url),
                    "headers": _headers(exchange.request.headers, secrets, exchange.sensitive),
                    **_body(exchange.request.body, secrets),
                },
                "response": {
                    "status": exchange.response.status,
                    "headers": _headers(exchange.response.headers, secrets, exchange.sensitive),
                    **_body(exchange.response.body, secrets),
                },
                "at_ms": exchange.duration_ms,
            }
            for exchange in exchanges
        ]
        recording: dict[str, Any] = {
            "version": function_version(),
            "code_sha256": code_sha256(code_dir) if code_dir else "",
            "config": {name: secrets.redact(value) for name, value in function_config().items()},
            "fetches": fetches,
            "env": [{"name": name, **read} for name, read in self.env.items()],
            "claims_set": list(self.claims_set),
        }
        if self.misses:
            recording["misses"] = [secrets.redact(miss) for miss in self.misses]
        return recording


class RecordedClaims(CustomClaims):
    """``CustomClaims`` that tell the capture when each claim is set (after which fetch)."""

    __slots__ = ("_capture",)

    def __init__(
        self,
        token: TokenKind,
        current: Mapping[str, Any] | None = None,
        *,
        reserved: Reserved,
        capture: Capture,
    ) -> None:
        super().__init__(token, current, reserved=reserved)
        object.__setattr__(self, "_capture", capture)

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, value)
        self._capture.claim_set(self.token, name)


def function_version() -> str:
    """The version Lambda runs (``$LATEST`` in the emulator and sam local)."""
    return os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")


def function_config(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The function's own configuration variables (the template's, e.g. ``API_BASE_URL``): what
    a replay must give the workflow for it to call the same URLs. The template keeps no secret
    in a variable (secrets are SSM SecureStrings); the values are redacted all the same. Only in
    Lambda (or the emulator), where the environment is Lambda's own and the template's."""
    environ = os.environ if environ is None else environ
    if "AWS_LAMBDA_FUNCTION_NAME" not in environ:  # not in Lambda (or the emulator): a shell's variables are no config
        return {}
    return {
        name: value
        for name, value in sorted(environ.items())
        if not name.startswith(_RESERVED_PREFIXES) and name not in _RESERVED_NAMES
    }


@cache
def code_sha256(code_dir: str) -> str:
    """A content hash of the function's code (its task root): a version that names the code
    itself, where Lambda's says ``$LATEST``. Bytecode is left out: the build derives it from the
    sources (hash-based, unchecked), and a source tree's caches come and go. Once per container."""
    import hashlib  # only when recording: a workflow's cold start need not load OpenSSL's hashes

    root = Path(code_dir)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
