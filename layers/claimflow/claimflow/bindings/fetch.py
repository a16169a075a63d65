"""The ``kinde.fetch`` and ``kinde.secureFetch`` bindings: the seed's HTTP functions, with
status and headers added. Both need the ``url`` binding beside them, as the seed's do.

Called as the seed calls them, ``fetch(url, {"method": "GET", "responseFormat": "json"})``, or
with keywords, ``fetch(url, method="GET", response_format="json")``. Like the seed's, a call
returns a result whatever the HTTP status (``result.status`` says which), is awaitable, and
reads as ``result.data`` or ``result["data"]``. ``raise_for_status`` opts into an error instead.

Core logic only: binding checks, URL policy, redirects, the deadline, body encoding and
response parsing. Sockets live behind the ``HttpClient`` port.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, Unpack
from urllib.parse import urljoin

from claimflow.binding_table import needed_for
from claimflow.bindings.fetch_result import FetchResult, dispatch
from claimflow.errors import FetchError, FetchUsageError, ParameterStoreError
from claimflow.infra.egress import CheckedUrl, check_url
from claimflow.infra.http_client import HttpRequest, HttpResponse
from claimflow.infra.logs import logger_for
from claimflow.runtime import Invocation, current_invocation

__all__ = ["FetchKeywords", "FetchOptions", "FetchResult", "fetch", "secure_fetch"]

ResponseFormat = Literal["json", "text"]
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Headers that never follow a redirect to another origin (plus those a workflow marks sensitive).
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


#: Option names as the seed spells them (and as Python does), to the keyword they set.
_OPTION_KEYS: Mapping[str, str] = {
    "method": "method",
    "headers": "headers",
    "body": "body",
    "responseFormat": "response_format",
    "response_format": "response_format",
    "timeout": "timeout",
    "sensitiveHeaders": "sensitive_headers",
    "sensitive_headers": "sensitive_headers",
    "raiseForStatus": "raise_for_status",
    "raise_for_status": "raise_for_status",
}


class FetchKeywords(TypedDict, total=False):
    """``fetch``'s keyword options (the options object's keys, in Python's spelling)."""

    method: str
    headers: Mapping[str, str]
    body: Any
    response_format: ResponseFormat
    timeout: float
    sensitive_headers: Iterable[str]
    raise_for_status: bool


@dataclass(frozen=True, kw_only=True)
class FetchOptions:
    """One call's options, from the seed's options object and keyword arguments together."""

    method: str = "GET"
    headers: Mapping[str, str] | None = None
    body: Any = None
    response_format: ResponseFormat = "json"
    timeout: float | None = None
    sensitive_headers: Iterable[str] = ()
    raise_for_status: bool = False

    @classmethod
    def merge(cls, url: str, options: Mapping[str, Any] | None, keywords: Mapping[str, Any], *, method: str) -> FetchOptions:
        """The options object and the keywords given; a name in both is refused."""
        if options is not None and not isinstance(options, Mapping):
            raise FetchUsageError(url, f"the options must be a mapping such as {{'method': 'GET'}}, not {type(options).__name__}")
        merged: dict[str, Any] = {"method": method}
        unknown = sorted(set(keywords) - set(_OPTION_KEYS.values()))
        if unknown:
            raise FetchUsageError(
                url, f"unknown keyword {unknown[0]}=; the keywords are: {', '.join(sorted(set(_OPTION_KEYS.values())))}"
            )
        given = {name: value for name, value in keywords.items() if value is not None}
        for key, value in (options or {}).items():
            name = _OPTION_KEYS.get(key)
            if name is None:
                accepted = ", ".join(k for k, v in _OPTION_KEYS.items() if "_" not in k)
                raise FetchUsageError(url, f"unknown option {key!r}; the options are: {accepted}")
            if name in given:
                raise FetchUsageError(url, f"option {key!r} is given both in the options and as the keyword {name}=")
            merged[name] = value
        return cls(**{**merged, **given})


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
        if response.status >= 400:
            return text  # an error page is often HTML; the status already says what went wrong
        raise FetchError(url, f"the body is not JSON ({error.args[0]}); pass responseFormat 'text' to read it as text") from None


def _send(invocation: Invocation, url: str, options: FetchOptions, body: bytes | None, headers: dict[str, str]) -> FetchResult:
    method = str(options.method).upper()
    if method not in _METHODS:
        raise FetchUsageError(url, f"method {method} refused; use one of {', '.join(sorted(_METHODS))}")
    if options.response_format not in ("json", "text"):
        raise FetchUsageError(url, f"responseFormat {options.response_format!r} refused; use 'json' or 'text'")
    services = invocation.services
    allowed_hosts = tuple(invocation.settings.option("url", "allowedHosts", []))
    if allowed_hosts and services.local_mode:  # locally, the stand-in (loopback) and local/settings.json's hosts too
        allowed_hosts += _LOOPBACK_NAMES + services.local_allowed_hosts
    sensitive = _CREDENTIAL_HEADERS | {name.lower() for name in options.sensitive_headers}
    sent_headers = headers
    # One deadline for the whole call, every redirect hop included.
    deadline = time.monotonic() + min(options.timeout or services.fetch_timeout, invocation.remaining_seconds())
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
            request := HttpRequest(
                method,
                url,
                sent_headers,
                body,
                timeout=wait,
                max_bytes=services.fetch_max_bytes,
                allowed_hosts=allowed_hosts,
            )
        )
        invocation.capture.fetched(request, response, sensitive=frozenset(sensitive))  # its log line; recordings
        location = next((v for k, v in response.headers.items() if k.lower() == "location"), None)
        if response.status in _REDIRECTS and location is not None:
            previous, url = checked, urljoin(url, location)  # re-checked above and, at connect, by the address guard
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = "GET", None  # RFC 9110 §15.4: 303 always, 301/302 for POST in practice
                sent_headers = {k: v for k, v in sent_headers.items() if k.lower() != "content-type"}
            continue
        result = FetchResult(_parse(url, response, options.response_format), response.status, dict(response.headers), url)
        if not result.ok:  # reported beside the workflow's outcome, whatever it does with the answer
            invocation.record_fetch_error(url, response.status)
        if options.raise_for_status:
            return result.raise_for_status()
        if not result.ok:  # the seed's semantics: the workflow decides; the operator still sees it
            logger_for(invocation.settings.id).warning(
                "fetch answered an error status", extra={"url": url, "status": response.status, "method": method}
            )
        return result
    raise FetchError(url, f"more than {_MAX_REDIRECTS} redirects")


def fetch(url: str, options: Mapping[str, Any] | None = None, /, **keywords: Unpack[FetchKeywords]) -> FetchResult:
    """Call a third-party API (bindings ``kinde.fetch`` and ``url``); the result for any status.

    ``options`` is the seed's object (``method``, ``headers``, ``body``, ``responseFormat``, and
    ours: ``timeout``, ``sensitiveHeaders``, ``raiseForStatus``); keywords say the same in
    Python. A dict or list ``body`` is sent as JSON. ``timeout`` bounds the whole call (connect,
    headers, body, redirects) and never exceeds the workflow's remaining time. On a redirect to
    another origin, ``Authorization``, ``Cookie``, ``Proxy-Authorization`` and the
    ``sensitive_headers`` are dropped, and a request body is never replayed. An error status is
    a result (logged as a warning) unless ``raise_for_status``, then ``FetchStatusError``.
    Raises ``FetchError`` naming the URL on a refused address, a timeout, an oversize body, or
    a success whose body is not JSON when JSON was asked for.
    """
    invocation = current_invocation()
    invocation.require(*needed_for("kinde.fetch"))
    chosen = FetchOptions.merge(url, options, keywords, method="GET")
    sent_headers = dict(chosen.headers or {})
    body = _encode_body(chosen.body, sent_headers)
    return dispatch(lambda: _send(invocation, url, chosen, body, sent_headers))


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


def secure_fetch(url: str, options: Mapping[str, Any] | None = None, /, **keywords: Unpack[FetchKeywords]) -> FetchResult:
    """``fetch`` with the body encrypted under the workflow's key (bindings ``kinde.secureFetch`` and ``url``).

    Same options; the method defaults to POST. The key is a base64 32-byte value in SSM
    (SecureString) at the workflow's secure-fetch-key path.
    """
    invocation = current_invocation()
    invocation.require(*needed_for("kinde.secureFetch"))
    chosen = FetchOptions.merge(url, options, keywords, method="POST")
    return dispatch(lambda: _secure_send(invocation, url, chosen))


def _secure_send(invocation: Invocation, url: str, chosen: FetchOptions) -> FetchResult:
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
    sent_headers = dict(chosen.headers or {})
    plaintext = _encode_body(chosen.body, {}) or b""
    sent_headers.setdefault("Content-Type", "text/plain")
    return _send(invocation, url, chosen, encrypt_body(key, plaintext).encode(), sent_headers)
