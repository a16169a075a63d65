"""The ``kinde.fetch`` and ``kinde.secureFetch`` bindings: the seed's HTTP functions, with
status and headers added. Both need the ``url`` binding beside them, as the seed's do.

Core logic only: binding checks, URL policy, redirects, the deadline, body encoding and
response parsing. Sockets live behind the ``HttpClient`` port.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urljoin

from claimflow.bindings import needed_for
from claimflow.errors import FetchError, FetchStatusError, ParameterStoreError
from claimflow.infra.egress import CheckedUrl, check_url
from claimflow.infra.http import HttpRequest, HttpResponse
from claimflow.runtime import Invocation, current_invocation

__all__ = ["FetchResult", "fetch", "secure_fetch"]

ResponseFormat = Literal["json", "text"]
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Headers that never follow a redirect to another origin (plus those a workflow marks sensitive).
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclass(frozen=True)
class FetchResult:
    """The seed's ``{ data }``, plus the status and headers it leaves out."""

    data: Any
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)


def _encode_body(body: Any, headers: dict[str, str]) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    return json.dumps(body, separators=(",", ":")).encode()


def _parse(url: str, response: HttpResponse, response_format: ResponseFormat) -> Any:
    text = response.body.decode("utf-8", errors="replace")
    if response_format == "text":
        return text
    if not response.body.strip():
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        raise FetchError(url, f"the body is not JSON ({error.args[0]}); pass response_format='text' to read it as text") from None


def _send(
    invocation: Invocation,
    url: str,
    *,
    method: str,
    headers: Mapping[str, str] | None,
    body: bytes | None,
    response_format: ResponseFormat,
    timeout: float | None,
    sensitive_headers: Iterable[str] = (),
) -> FetchResult:
    method = method.upper()
    if method not in _METHODS:
        raise FetchError(url, f"method {method} refused; use one of {', '.join(sorted(_METHODS))}")
    if response_format not in ("json", "text"):
        raise FetchError(url, f"response_format {response_format!r} refused; use 'json' or 'text'")
    services = invocation.services
    allowed_hosts = tuple(invocation.settings.option("url", "allowedHosts", []))
    sensitive = _CREDENTIAL_HEADERS | {name.lower() for name in sensitive_headers}
    sent_headers = dict(headers or {})
    # One deadline for the whole call, every redirect hop included.
    deadline = time.monotonic() + min(timeout or services.fetch_timeout, invocation.remaining_seconds())
    previous: CheckedUrl | None = None
    for _ in range(_MAX_REDIRECTS + 1):
        checked = check_url(url, local_mode=services.local_mode, allowed_hosts=allowed_hosts)
        if previous is not None and checked.origin != previous.origin:
            # Another origin: credentials stay behind, and a body is never replayed to it.
            sent_headers = {k: v for k, v in sent_headers.items() if k.lower() not in sensitive}
            if body is not None:
                raise FetchError(url, "a redirect to another origin would resend the request body; refused")
        wait = deadline - time.monotonic()
        if wait <= 0.05:
            raise FetchError(url, "no time left before the deadline")
        response = services.http.send(
            HttpRequest(
                method,
                url,
                sent_headers,
                body,
                timeout=wait,
                max_bytes=services.fetch_max_bytes,
                allowed_hosts=allowed_hosts,
            )
        )
        location = next((v for k, v in response.headers.items() if k.lower() == "location"), None)
        if response.status in _REDIRECTS and location is not None:
            previous, url = checked, urljoin(url, location)  # re-checked above and, at connect, by the address guard
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = "GET", None  # RFC 9110 §15.4: 303 always, 301/302 for POST in practice
                sent_headers = {k: v for k, v in sent_headers.items() if k.lower() != "content-type"}
            continue
        data = _parse(url, response, response_format) if response.status < 400 else _safe_parse(response)
        if response.status >= 400:
            raise FetchStatusError(url, response.status, data)
        return FetchResult(data, response.status, dict(response.headers))
    raise FetchError(url, f"more than {_MAX_REDIRECTS} redirects")


def _safe_parse(response: HttpResponse) -> Any:
    try:
        return json.loads(response.body)
    except ValueError:
        return response.body[:1024].decode("utf-8", errors="replace")


def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    response_format: ResponseFormat = "json",
    timeout: float | None = None,
    sensitive_headers: Iterable[str] = (),
) -> FetchResult:
    """Call a third-party API (bindings ``kinde.fetch`` and ``url``).

    A dict or list ``body`` is sent as JSON. ``timeout`` bounds the whole call (connect,
    headers, body, redirects) and never exceeds the workflow's remaining time. On a redirect to
    another origin, ``Authorization``, ``Cookie``, ``Proxy-Authorization`` and the headers named
    in ``sensitive_headers`` are dropped, and a request body is never replayed. Raises
    ``FetchError`` naming the URL on a refused address, a timeout, an error status
    (``FetchStatusError``), an oversize or non-JSON body.
    """
    invocation = current_invocation()
    invocation.require(*needed_for("kinde.fetch"))
    sent_headers = dict(headers or {})
    encoded = _encode_body(body, sent_headers)
    return _send(
        invocation,
        url,
        method=method,
        headers=sent_headers,
        body=encoded,
        response_format=response_format,
        timeout=timeout,
        sensitive_headers=sensitive_headers,
    )


def encrypt_body(key: bytes, plaintext: bytes) -> str:
    """AES-256-GCM, laid out as the seed's: base64(12-byte nonce ‖ 16-byte tag ‖ ciphertext)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext, None)  # ciphertext ‖ tag
    ciphertext, tag = sealed[:-16], sealed[-16:]
    return base64.b64encode(nonce + tag + ciphertext).decode()


def decrypt_body(key: bytes, payload: str) -> bytes:
    """The receiving side of ``encrypt_body``; for third parties' tests and our stand-ins."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    raw = base64.b64decode(payload)
    nonce, tag, ciphertext = raw[:12], raw[12:28], raw[28:]
    return AESGCM(key).decrypt(nonce, ciphertext + tag, None)


def secure_fetch(
    url: str,
    *,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    response_format: ResponseFormat = "json",
    timeout: float | None = None,
    sensitive_headers: Iterable[str] = (),
) -> FetchResult:
    """``fetch`` with the body encrypted under the workflow's key (bindings ``kinde.secureFetch`` and ``url``).

    The key is a base64 32-byte value in SSM (SecureString) at the workflow's secure-fetch-key path.
    """
    invocation = current_invocation()
    invocation.require(*needed_for("kinde.secureFetch"))
    name = invocation.services.paths.secure_fetch_key(invocation.settings.id)
    parameter = invocation.services.parameters.get(name, deadline=invocation.deadline)
    if parameter is None:
        raise ParameterStoreError(f"secure_fetch needs a key: put a base64 32-byte SecureString at {name}")
    try:
        key = base64.b64decode(parameter.value, validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ParameterStoreError(f"the secure_fetch key at {name} must be base64 of exactly 32 bytes")
    invocation.services.secrets.add(parameter.value)
    sent_headers = dict(headers or {})
    plaintext = _encode_body(body, {}) or b""
    sent_headers.setdefault("Content-Type", "text/plain")
    encrypted = encrypt_body(key, plaintext).encode()
    return _send(
        invocation,
        url,
        method=method,
        headers=sent_headers,
        body=encrypted,
        response_format=response_format,
        timeout=timeout,
        sensitive_headers=sensitive_headers,
    )
