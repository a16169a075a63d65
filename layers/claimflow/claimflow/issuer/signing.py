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
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import jwt
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from claimflow.infra.parameters import ParameterStore
from claimflow.issuer.errors import SigningKeyError

__all__ = ["SUPPORTED_ALGORITHMS", "KeyEntry", "KeyProvider", "KeySet", "Signer", "generate_key"]

SUPPORTED_ALGORITHMS = ("RS256", "ES256", "Ed25519", "EdDSA")
_EDWARDS = ("Ed25519", "EdDSA")
#: The JWS codec, taught RFC 9864's Ed25519 (PyJWT 2.15 knows only the polymorphic EdDSA).
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
    kid: str
    alg: str
    status: str
    created_at: int
    jwk: Mapping[str, Any] = field(repr=False)  # private JWK: never logged

    def public_jwk(self) -> dict[str, Any]:
        public = {k: v for k, v in self.jwk.items() if k in ("kty", "crv", "n", "e", "x", "y")}
        return {**public, "kid": self.kid, "alg": self.alg, "use": "sig"}


def generate_key(alg: str, *, status: str, now: int) -> KeyEntry:
    key = _private_key(alg)
    return KeyEntry(kid=f"{alg.lower()}-{uuid.uuid4().hex[:16]}", alg=alg, status=status, created_at=now, jwk=_to_jwk(key, alg))


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
                "keys": [
                    {"kid": k.kid, "alg": k.alg, "status": k.status, "created_at": k.created_at, "jwk": dict(k.jwk)}
                    for k in self.keys
                ],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> KeySet:
        try:
            document = json.loads(text)
            if document.get("version") != KEYSET_VERSION:
                raise ValueError(f"version must be {KEYSET_VERSION}")
            keys = tuple(
                KeyEntry(
                    kid=str(k["kid"]),
                    alg=str(k["alg"]),
                    status=str(k["status"]),
                    created_at=int(k["created_at"]),
                    jwk=dict(k["jwk"]),
                )
                for k in document["keys"]
            )
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
    def initial(cls, alg: str, *, now: int) -> KeySet:
        return cls((generate_key(alg, status="active", now=now),))

    def add_next(self, alg: str | None = None, *, now: int) -> KeySet:
        """Publish a new key that will sign after the grace period."""
        if self.pending is not None:
            raise SigningKeyError(f"key {self.pending.kid} is already waiting to be promoted; promote it first")
        return KeySet._checked((*self.keys, generate_key(alg or self.active.alg, status="next", now=now)))

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
            replace(k, status="active") if k.kid == pending.kid else replace(k, status="previous") if k.status == "active" else k
            for k in self.keys
        )
        return KeySet._checked(keys)

    def retire(self, *, keep_previous: int) -> KeySet:
        """Drop the oldest previous keys beyond ``keep_previous``; their tokens stop verifying."""
        previous = sorted((k for k in self.keys if k.status == "previous"), key=lambda k: k.created_at, reverse=True)
        dropped = {k.kid for k in previous[keep_previous:]}
        return KeySet._checked(tuple(k for k in self.keys if k.kid not in dropped))

    def rotate(self, *, now: int, grace_seconds: int, keep_previous: int, alg: str | None = None) -> KeySet:
        """One step of rotation: publish a next key, or, once its grace period has passed,
        promote it and retire the oldest previous keys."""
        if self.pending is None:
            return self.add_next(alg, now=now)
        return self.promote(now=now, grace_seconds=grace_seconds).retire(keep_previous=keep_previous)


class Signer:
    """Signs claims with the active key of one key set; the key object is parsed once."""

    def __init__(self, keyset: KeySet) -> None:
        active = keyset.active
        self.kid = active.kid
        self.alg = active.alg
        try:
            self._key = jwt.PyJWK(dict(active.jwk), algorithm="EdDSA" if active.alg in _EDWARDS else active.alg).key
        except jwt.PyJWTError as error:
            raise SigningKeyError(f"active key {active.kid} cannot be loaded: {type(error).__name__}") from None

    def sign(self, claims: Mapping[str, Any], *, typ: str) -> str:
        payload = json.dumps(claims, separators=(",", ":")).encode()
        return _JWS.encode(payload, self._key, algorithm=self.alg, headers={"kid": self.kid, "typ": typ})


class KeyProvider:
    """The key set from the parameter store, re-read after the store's TTL; the parsed signer
    is rebuilt only when the stored text changes."""

    def __init__(self, store: ParameterStore, name: str) -> None:
        self._store = store
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
                self._signer, self._keyset, self._text = Signer(keyset), keyset, parameter.value
            return self._keyset, self._signer

    def signer(self, *, deadline: float | None = None) -> Signer:
        """The active key's signer; ``deadline`` (monotonic) bounds a wait on the store."""
        return self._load(deadline)[1]

    def keyset(self, *, deadline: float | None = None) -> KeySet:
        return self._load(deadline)[0]
