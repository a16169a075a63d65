"""Signing keys as data: the JWK set stored in SSM, its rotation states and the public JWKS.

A key set holds one ``active`` key (signs), at most one ``next`` key (published so resource
servers cache it before it signs) and ``previous`` keys (still published, so tokens they
signed keep verifying until they are retired). Each rotation step returns a new set; storing
it is ``claimflow.keys.manager``'s job, signing with it ``claimflow.keys.signer``'s.

Algorithms: RS256 (the default: API Gateway's JWT authorizers accept only RSA), ES256, and
Ed25519, named as RFC 9864 names it. ``EdDSA``, the polymorphic name RFC 9864 deprecates, is
still accepted for verifiers that know only it (PyJWT 2.15 among them): the same key type.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Protocol

from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from claimflow.keys.errors import SigningKeyError

__all__ = ["KMS_KEY_SPECS", "SUPPORTED_ALGORITHMS", "KeyEntry", "KeyMaker", "KeySet", "generate_key"]

SUPPORTED_ALGORITHMS = ("RS256", "ES256", "Ed25519", "EdDSA")
EDWARDS_ALGORITHMS = ("Ed25519", "EdDSA")
#: JOSE alg -> (AWS KMS KeySpec, KMS SigningAlgorithm) of keys that never leave KMS.
KMS_KEY_SPECS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {"RS256": ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"), "ES256": ("ECC_NIST_P256", "ECDSA_SHA_256")}
)
KEYSET_VERSION = 1
_STATUSES = ("active", "next", "previous")


def _private_key(alg: str) -> Any:
    if alg == "RS256":
        from cryptography.hazmat.primitives.asymmetric import rsa

        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        from cryptography.hazmat.primitives.asymmetric import ec

        return ec.generate_private_key(ec.SECP256R1())
    if alg in EDWARDS_ALGORITHMS:
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
    """Makes a key: here (``generate_key``), or in AWS KMS (``claimflow.keys.kms_keys``)."""

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
