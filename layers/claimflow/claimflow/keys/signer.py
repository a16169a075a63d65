"""Signing with the active key: a signer that parses the key once per container (PEM/JWK
parsing costs milliseconds), here or through AWS KMS (``kms:Sign``, the private key never
leaving it), and the provider that re-reads the stored key set after its cache's TTL.

A key set the provider could not re-read for longer than the rotation's grace window
(``RotationPolicy.signs_until``) is not signed with: its active key may have been promoted out
and retired (a KMS key scheduled for deletion) since, so its tokens would verify nowhere. The
provider waits for a fresh read instead, and without one the token request fails closed
(``ParameterStoreError``: ``temporarily_unavailable``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import jwt
from jwt.algorithms import OKPAlgorithm
from jwt.utils import base64url_encode

from claimflow.infra.parameters import Parameter, ParameterStore
from claimflow.keys.errors import SigningKeyError
from claimflow.keys.keyset import EDWARDS_ALGORITHMS, KMS_KEY_SPECS, KeyEntry, KeySet
from claimflow.keys.manager import RotationPolicy

__all__ = ["KeyProvider", "RemoteSigning", "Signer"]


class RemoteSigning(Protocol):
    """A key service that signs with keys it never releases (``claimflow.infra.kms_api.KmsApi``)."""

    def sign(self, key_id: str, message: bytes, algorithm: str, *, deadline: float) -> bytes: ...


_COMPACT = json.JSONEncoder(separators=(",", ":"))  # json.dumps's own encoder, without its per-call set-up
#: The JWS codec, taught RFC 9864's Ed25519 (PyJWT 2.15 knows only the polymorphic EdDSA).
_JWS = jwt.PyJWS()
_JWS.register_algorithm("Ed25519", OKPAlgorithm())


def _load_private_key(entry: KeyEntry) -> Any:
    """The key object. An RSA key claimflow generated skips OpenSSL's validation of the private
    numbers (28 ms a cold start: it checks the primes); one signature made and verified instead
    proves the numbers consistent before any token leaves, which is what the validation guards
    (a wrong CRT value makes signatures that leak the key). Other keys load as PyJWK loads them."""
    if entry.alg != "RS256" or not entry.checked:
        return jwt.PyJWK(dict(entry.jwk), algorithm="EdDSA" if entry.alg in EDWARDS_ALGORITHMS else entry.alg).key
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from jwt.utils import from_base64url_uint

    number = {name: from_base64url_uint(entry.jwk[name]) for name in ("n", "e", "d", "p", "q", "dp", "dq", "qi")}
    public = rsa.RSAPublicNumbers(number["e"], number["n"])
    private = rsa.RSAPrivateNumbers(
        number["p"], number["q"], number["d"], number["dp"], number["dq"], number["qi"], public
    ).private_key(unsafe_skip_rsa_key_validation=True)
    probe = b"claimflow signing key self-test"
    try:
        private.public_key().verify(
            private.sign(probe, padding.PKCS1v15(), hashes.SHA256()), probe, padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        raise ValueError("the key's private numbers do not match its public key") from None
    return private


class Signer:
    """Signs claims with the active key of one key set: here, the key object parsed once; or in
    AWS KMS (``kms:Sign``), the private key never leaving it."""

    def __init__(self, keyset: KeySet, *, kms: Callable[[], RemoteSigning] | None = None) -> None:
        active = keyset.active
        self.kid = active.kid
        self.alg = active.alg
        self._headers: dict[str, bytes] = {}  # typ -> the encoded header
        self._raw_sign: Callable[[bytes, float | None], bytes]
        if active.kms_key_id is not None:
            if kms is None:
                raise SigningKeyError(f"active key {active.kid} lives in KMS; this signer was given no KMS client")
            self._raw_sign = _kms_signing(kms(), active.kms_key_id, active.alg)
            return
        try:
            key = _load_private_key(active)
        except (jwt.PyJWTError, ValueError, KeyError) as error:
            raise SigningKeyError(f"active key {active.kid} cannot be loaded: {type(error).__name__}") from None
        algorithm = _JWS.get_algorithm_by_name(active.alg)
        self._raw_sign = lambda message, _deadline: algorithm.sign(message, key)

    def sign(self, claims: Mapping[str, Any], *, typ: str, deadline: float | None = None) -> str:
        """The compact JWS PyJWS would make (same header, same bytes): its header is encoded
        once per ``typ``. ``deadline`` (``time.monotonic()``) bounds a KMS call."""
        header = self._headers.get(typ)
        if header is None:
            encoded = json.dumps({"alg": self.alg, "kid": self.kid, "typ": typ}, separators=(",", ":"), sort_keys=True)
            header = self._headers[typ] = base64url_encode(encoded.encode())
        signing_input = header + b"." + base64url_encode(_COMPACT.encode(claims).encode())
        return (signing_input + b"." + base64url_encode(self._raw_sign(signing_input, deadline))).decode()


def _kms_signing(kms: RemoteSigning, key_id: str, alg: str) -> Callable[[bytes, float | None], bytes]:
    """KMS's Sign for ``alg``; ES256's DER signature (r, s) becomes JOSE's 64 raw bytes."""
    if alg not in KMS_KEY_SPECS:
        raise SigningKeyError(f"KMS keys sign {', '.join(KMS_KEY_SPECS)}, not {alg}")
    algorithm = KMS_KEY_SPECS[alg][1]

    def sign(message: bytes, deadline: float | None) -> bytes:
        signature = kms.sign(key_id, message, algorithm, deadline=deadline if deadline is not None else time.monotonic() + 5)
        if alg == "ES256":
            from cryptography.hazmat.primitives.asymmetric import ec
            from jwt.utils import der_to_raw_signature

            return der_to_raw_signature(signature, ec.SECP256R1())
        return signature

    return sign


class KeyProvider:
    """The key set from the parameter store, re-read after the store's TTL; the parsed signer
    is rebuilt only when the stored text changes."""

    def __init__(
        self,
        store: ParameterStore,
        name: str,
        *,
        kms: Callable[[], RemoteSigning] | None = None,
        policy: RotationPolicy | None = None,
        longest_token_seconds: int = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``kms``: makes the client a key kept in KMS signs through (the composition root's).
        ``policy`` (the rotation's timings) and ``longest_token_seconds`` bound how long a key
        set that cannot be re-read is signed with; ``clock``: epoch seconds."""
        self._store = store
        self._kms = kms
        self._name = name
        self._policy = policy or RotationPolicy()
        self._longest = longest_token_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._text: str | None = None
        self._keyset: KeySet | None = None
        self._signer: Signer | None = None
        self._parsed: tuple[str, KeySet] | None = None  # for the stale check, which runs in the store's lock

    def _servable(self, value: Any, age: float) -> str | None:
        """Why a cached key set ``age`` seconds old may not be signed with (None: it may)."""
        if not isinstance(value, Parameter):
            return None
        parsed = self._parsed
        if parsed is None or parsed[0] != value.value:
            try:
                parsed = (value.value, KeySet.from_json(value.value))
            except SigningKeyError:
                return None  # malformed: reading it again says so
            self._parsed = parsed
        keyset, now = parsed[1], self._clock()
        until = self._policy.signs_until(keyset, read_at=now - age, longest_token_seconds=self._longest)
        if now <= until:
            return None
        return (
            f"the signing key set was last read {age:.0f} s ago: its active key {keyset.active.kid} may have been "
            "rotated out of the JWKS since, so no token is signed with it until the key set is read again"
        )

    def _load(self, deadline: float | None) -> tuple[KeySet, Signer]:
        parameter = self._store.get(self._name, deadline=deadline, servable=self._servable)
        if parameter is None:
            raise SigningKeyError(f"no signing key set at {self._name}; create one with './claimflow keys init'")
        with self._lock:
            if parameter.value != self._text or self._signer is None or self._keyset is None:
                keyset = KeySet.from_json(parameter.value)
                self._signer, self._keyset, self._text = Signer(keyset, kms=self._kms), keyset, parameter.value
            return self._keyset, self._signer

    def signer(self, *, deadline: float | None = None) -> Signer:
        """The active key's signer; ``deadline`` (monotonic) bounds a wait on the store."""
        return self._load(deadline)[1]

    def keyset(self, *, deadline: float | None = None) -> KeySet:
        return self._load(deadline)[0]
