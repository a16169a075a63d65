"""Signing keys: the JWK set stored in SSM, its rotation states, the public JWKS, and a
signer that parses the active key once per container (PEM/JWK parsing costs milliseconds).

A key set holds one ``active`` key (signs), at most one ``next`` key (published so resource
servers cache it before it signs) and ``previous`` keys (still published, so tokens they
signed keep verifying until they are retired).

Algorithms: RS256 (the default: API Gateway's JWT authorizers accept only RSA), ES256, and
Ed25519, named as RFC 9864 names it. ``EdDSA``, the polymorphic name RFC 9864 deprecates, is
still accepted for verifiers that know only it (PyJWT 2.15 among them): the same key type.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Protocol

import jwt
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from jwt.utils import base64url_encode

from claimflow.infra.parameters import ParameterStore
from claimflow.issuer.errors import SigningKeyError

__all__ = ["SUPPORTED_ALGORITHMS", "KeyEntry", "KeyProvider", "KeySet", "Signer", "generate_key"]

SUPPORTED_ALGORITHMS = ("RS256", "ES256", "Ed25519", "EdDSA")
_EDWARDS = ("Ed25519", "EdDSA")
#: The JWS codec, taught RFC 9864's Ed25519 (PyJWT 2.15 knows only the polymorphic EdDSA).
#: JOSE alg -> (AWS KMS KeySpec, KMS SigningAlgorithm) of keys that never leave KMS.
KMS_KEY_SPECS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {"RS256": ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"), "ES256": ("ECC_NIST_P256", "ECDSA_SHA_256")}
)


class RemoteSigning(Protocol):
    """A key service that signs with keys it never releases (``claimflow.infra.kms.KmsApi``)."""

    def sign(self, key_id: str, message: bytes, algorithm: str, *, deadline: float) -> bytes: ...


_COMPACT = json.JSONEncoder(separators=(",", ":"))  # json.dumps's own encoder, without its per-call set-up
_JWS = jwt.PyJWS()
_JWS.register_algorithm("Ed25519", OKPAlgorithm())
KEYSET_VERSION = 1
_STATUSES = ("active", "next", "previous")


def _private_key(alg: str) -> Any:
    if alg == "RS256":
        from cryptography.hazmat.primitives.asymmetric import rsa

        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        from cryptography.hazmat.primitives.asymmetric import ec

        return ec.generate_private_key(ec.SECP256R1())
    if alg in _EDWARDS:
        from cryptography.hazmat.primitives.asymmetric import ed25519

        return ed25519.Ed25519PrivateKey.generate()
    raise SigningKeyError(f"signing algorithm {alg!r} is not supported; use one of {', '.join(SUPPORTED_ALGORITHMS)}")


def _to_jwk(key: Any, alg: str) -> dict[str, Any]:
    algorithm = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "Ed25519": OKPAlgorithm, "EdDSA": OKPAlgorithm}[alg]
    jwk: dict[str, Any] = algorithm.to_jwk(key, as_dict=True)  # type: ignore[attr-defined]
    return jwk


@dataclass(frozen=True)
class KeyEntry:
    """One key of the set. ``created_at`` is when it was published; ``activated_at`` and
    ``deactivated_at`` when it started and stopped signing (rotation times its steps by them)."""

    kid: str
    alg: str
    status: str
    created_at: int
    jwk: Mapping[str, Any] = field(repr=False)  # private JWK (a KMS key: the public one): never logged
    #: Generated (and so validated) by claimflow: loads without repeating RSA's validation.
    checked: bool = False
    #: Where the private key lives when it never leaves AWS KMS (its ARN); None: in ``jwk``.
    kms_key_id: str | None = None
    activated_at: int | None = None
    deactivated_at: int | None = None

    @property
    def stopped_signing(self) -> int:
        """When a previous key stopped signing (a set older than the field: when it was made)."""
        return self.deactivated_at if self.deactivated_at is not None else self.created_at

    def public_jwk(self) -> dict[str, Any]:
        public = {k: v for k, v in self.jwk.items() if k in ("kty", "crv", "n", "e", "x", "y")}
        return {**public, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def to_wire(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "kid": self.kid,
            "alg": self.alg,
            "status": self.status,
            "created_at": self.created_at,
            "jwk": dict(self.jwk),
        }
        optional = {
            "checked": self.checked or None,
            "kms_key_id": self.kms_key_id,
            "activated_at": self.activated_at,
            "deactivated_at": self.deactivated_at,
        }
        return {**document, **{name: value for name, value in optional.items() if value is not None}}

    @classmethod
    def from_wire(cls, document: Mapping[str, Any]) -> KeyEntry:
        def moment(name: str) -> int | None:
            return None if document.get(name) is None else int(document[name])

        return cls(
            kid=str(document["kid"]),
            alg=str(document["alg"]),
            status=str(document["status"]),
            created_at=int(document["created_at"]),
            jwk=dict(document["jwk"]),
            checked=document.get("checked") is True,
            kms_key_id=None if document.get("kms_key_id") is None else str(document["kms_key_id"]),
            activated_at=moment("activated_at"),
            deactivated_at=moment("deactivated_at"),
        )


class KeyMaker(Protocol):
    """Makes a key: here (``generate_key``), or in AWS KMS (``claimflow.issuer.kms_keys``)."""

    def __call__(self, alg: str, *, status: str, now: int) -> KeyEntry: ...


def generate_key(alg: str, *, status: str, now: int) -> KeyEntry:
    key = _private_key(alg)
    kid = f"{alg.lower()}-{uuid.uuid4().hex[:16]}"
    return KeyEntry(kid=kid, alg=alg, status=status, created_at=now, jwk=_to_jwk(key, alg), checked=True)


@dataclass(frozen=True)
class KeySet:
    keys: tuple[KeyEntry, ...]

    # --- reading ---------------------------------------------------------------------------

    @property
    def active(self) -> KeyEntry:
        return next(k for k in self.keys if k.status == "active")

    @property
    def pending(self) -> KeyEntry | None:
        return next((k for k in self.keys if k.status == "next"), None)

    def public_jwks(self) -> dict[str, Any]:
        """Every key a resource server may meet: active, next and previous."""
        return {"keys": [k.public_jwk() for k in self.keys]}

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": KEYSET_VERSION,
                "keys": [key.to_wire() for key in self.keys],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> KeySet:
        try:
            document = json.loads(text)
            if document.get("version") != KEYSET_VERSION:
                raise ValueError(f"version must be {KEYSET_VERSION}")
            keys = tuple(KeyEntry.from_wire(key) for key in document["keys"])
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            # Never include the text: it holds private keys.
            raise SigningKeyError(
                f"the signing key set is malformed ({type(error).__name__}: {error}); "
                "re-create it with './claimflow keys init --force'"
            ) from None
        return cls._checked(keys)

    @classmethod
    def _checked(cls, keys: tuple[KeyEntry, ...]) -> KeySet:
        statuses = [k.status for k in keys]
        if statuses.count("active") != 1:
            raise SigningKeyError(f"the signing key set must have exactly one active key, it has {statuses.count('active')}")
        if statuses.count("next") > 1:
            raise SigningKeyError("the signing key set has more than one next key")
        for key in keys:
            if key.status not in _STATUSES or key.alg not in SUPPORTED_ALGORITHMS:
                raise SigningKeyError(f"key {key.kid}: unknown status {key.status!r} or algorithm {key.alg!r}")
        if len({k.kid for k in keys}) != len(keys):
            raise SigningKeyError("the signing key set has two keys with one kid")
        return cls(keys)

    # --- rotating (each step returns a new set) ----------------------------------------------

    @classmethod
    def initial(cls, alg: str, *, now: int, make: KeyMaker = generate_key) -> KeySet:
        return cls((replace(make(alg, status="active", now=now), activated_at=now),))

    def add_next(self, alg: str | None = None, *, now: int, make: KeyMaker = generate_key) -> KeySet:
        """Publish a new key that will sign after the grace period."""
        if self.pending is not None:
            raise SigningKeyError(f"key {self.pending.kid} is already waiting to be promoted; promote it first")
        return KeySet._checked((*self.keys, make(alg or self.active.alg, status="next", now=now)))

    def promote(self, *, now: int, grace_seconds: int) -> KeySet:
        """The next key signs from now on; the active one becomes previous (still verifies)."""
        pending = self.pending
        if pending is None:
            raise SigningKeyError("no next key to promote; run 'keys rotate' (or 'keys add') first")
        waited = now - pending.created_at
        if waited < grace_seconds:
            raise SigningKeyError(
                f"key {pending.kid} was published {waited}s ago; resource servers may not have it yet "
                f"(grace period {grace_seconds}s). Wait, or pass a shorter --grace-seconds"
            )
        keys = tuple(
            replace(k, status="active", activated_at=now)
            if k.kid == pending.kid
            else replace(k, status="previous", deactivated_at=now)
            if k.status == "active"
            else k
            for k in self.keys
        )
        return KeySet._checked(keys)

    def retire(self, *, keep_previous: int) -> KeySet:
        """Drop the oldest previous keys beyond ``keep_previous``; their tokens stop verifying."""
        previous = sorted((k for k in self.keys if k.status == "previous"), key=lambda k: k.created_at, reverse=True)
        dropped = {k.kid for k in previous[keep_previous:]}
        return KeySet._checked(tuple(k for k in self.keys if k.kid not in dropped))

    def retire_expired(self, *, now: int, after_seconds: int) -> KeySet:
        """Drop the previous keys that stopped signing ``after_seconds`` ago or more: every token
        they signed has expired. Never the active key, never the next one."""
        expired = {
            k.kid
            for k in self.keys
            if k.status == "previous"
            and (k.deactivated_at if k.deactivated_at is not None else k.created_at) + after_seconds <= now
        }
        return KeySet._checked(tuple(k for k in self.keys if k.kid not in expired))

    def rotate(
        self, *, now: int, grace_seconds: int, keep_previous: int, alg: str | None = None, make: KeyMaker = generate_key
    ) -> KeySet:
        """One step of rotation: publish a next key, or, once its grace period has passed,
        promote it and retire the oldest previous keys."""
        if self.pending is None:
            return self.add_next(alg, now=now, make=make)
        return self.promote(now=now, grace_seconds=grace_seconds).retire(keep_previous=keep_previous)


def _load_private_key(entry: KeyEntry) -> Any:
    """The key object. An RSA key claimflow generated skips OpenSSL's validation of the private
    numbers (28 ms a cold start: it checks the primes); one signature made and verified instead
    proves the numbers consistent before any token leaves, which is what the validation guards
    (a wrong CRT value makes signatures that leak the key). Other keys load as PyJWK loads them."""
    if entry.alg != "RS256" or not entry.checked:
        return jwt.PyJWK(dict(entry.jwk), algorithm="EdDSA" if entry.alg in _EDWARDS else entry.alg).key
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

    def __init__(self, store: ParameterStore, name: str, *, kms: Callable[[], RemoteSigning] | None = None) -> None:
        """``kms``: makes the client a key kept in KMS signs through (the composition root's)."""
        self._store = store
        self._kms = kms
        self._name = name
        self._lock = threading.Lock()
        self._text: str | None = None
        self._keyset: KeySet | None = None
        self._signer: Signer | None = None

    def _load(self, deadline: float | None) -> tuple[KeySet, Signer]:
        parameter = self._store.get(self._name, deadline=deadline)
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
