"""Key management over the parameter store: the steps of rotation applied to the stored key
set. ``./claimflow keys`` and the scheduled rotation function (``claimflow.keys.rotation``)
drive it; a ``KeySource`` makes the keys (here, or in AWS KMS) and retires them.

Publish before use: every save writes, in this order, (1) the public JWKS holding every key of
the old and the new set, (2) the private key set, (3) the public JWKS of the new set alone (a
retired key leaves it only after the private set no longer holds it). A failure at any step
leaves a JWKS that holds every key the issuer may sign with; and a key is promoted to sign
only if the published JWKS already holds it.

Rotation that keeps old tokens valid: ``rotate`` publishes a next key; after the grace
period (longer than resource servers cache the JWKS) ``rotate`` again promotes it and
retires the oldest previous keys beyond ``keep_previous``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Protocol

from claimflow.environment import SsmPaths
from claimflow.errors import ClaimflowError
from claimflow.infra.parameters import ParameterStore
from claimflow.keys.errors import SigningKeyError
from claimflow.keys.keyset import KeyEntry, KeySet, generate_key

__all__ = ["DEFAULT_GRACE_SECONDS", "KeyManager", "KeySource", "LocalKeys", "RotationPolicy"]

#: How long a new key is published before it signs: longer than resource servers cache the JWKS.
#: API Gateway's JWT authorizers may cache it for two hours; the margin covers clock and propagation.
DEFAULT_GRACE_SECONDS = 2 * 3600 + 15 * 60
#: Clocks disagree: a retired key stays this much longer than the longest token it signed.
CLOCK_SKEW_SECONDS = 5 * 60


class KeySource(Protocol):
    """Where keys are made and what retiring one means (``ssm``: here; ``kms``: in AWS KMS)."""

    name: str

    def make(self, alg: str, *, status: str, now: int) -> KeyEntry: ...

    def reconcile(self, keyset: KeySet) -> None:
        """Finish what an interrupted run left undone, before anything else is done."""

    def recorded(self, entry: KeyEntry) -> None:
        """``entry`` is now in the stored key set (a KMS key is no longer an orphan to adopt)."""

    def retired(self, entry: KeyEntry) -> None:
        """``entry`` has left the stored key set and the JWKS (a KMS key is scheduled for deletion)."""


class LocalKeys:
    """Private JWKs generated in this process, stored in SSM (SecureString)."""

    name = "ssm"

    def make(self, alg: str, *, status: str, now: int) -> KeyEntry:
        return generate_key(alg, status=status, now=now)

    def reconcile(self, keyset: KeySet) -> None:
        pass

    def recorded(self, entry: KeyEntry) -> None:
        pass

    def retired(self, entry: KeyEntry) -> None:
        pass


@dataclass(frozen=True, kw_only=True)
class RotationPolicy:
    """When keys move: a next key is published once the active one has signed for ``period``;
    it signs ``grace`` after it was published (resource servers have fetched it by then); a
    key that stopped signing leaves the JWKS ``retire_after`` later (its tokens have expired)."""

    period_seconds: int = 30 * 86400
    grace_seconds: int = DEFAULT_GRACE_SECONDS
    retire_after_seconds: int = 3600 + CLOCK_SKEW_SECONDS

    def signs_until(self, keyset: KeySet, *, read_at: float, longest_token_seconds: int) -> float:
        """Until when (epoch seconds) a signer that read ``keyset`` at ``read_at``, and could not
        read it since, may go on signing with its active key, every token verifying until it
        expires. The rotation stops that key signing no sooner than ``grace`` after a successor
        was published (a successor not in ``keyset`` was published after ``read_at``) and keeps
        it published ``retire_after`` longer, so a token it signs up to ``retire_after`` minus
        the longest token lifetime after that still expires before the key leaves the JWKS."""
        pending = keyset.pending
        stops = read_at + self.grace_seconds if pending is None else max(read_at, pending.created_at + self.grace_seconds)
        return stops + self.retire_after_seconds - longest_token_seconds

    def moves(self, keyset: KeySet) -> list[tuple[KeyEntry, str, int]]:
        """Each key's next move and when (epoch seconds): what ``keys status`` shows."""
        planned = []
        for key in keyset.keys:
            if key.status == "next":
                planned.append((key, "signs (promoted)", key.created_at + self.grace_seconds))
            elif key.status == "active":
                started = key.activated_at if key.activated_at is not None else key.created_at
                successor = "its successor is promoted" if keyset.pending else "a successor is published"
                when = keyset.pending.created_at + self.grace_seconds if keyset.pending else started + self.period_seconds
                planned.append((key, successor, when))
            else:
                planned.append((key, "leaves the JWKS (retired)", key.stopped_signing + self.retire_after_seconds))
        return planned


class KeyManager:
    def __init__(
        self, store: ParameterStore, paths: SsmPaths, *, keys: KeySource | None = None, keyset_key_id: str | None = None
    ) -> None:
        """``keyset_key_id``: the KMS key (or alias) the private key set is encrypted under."""
        self.store = store
        self.paths = paths
        self.keys = keys or LocalKeys()
        self.keyset_key_id = keyset_key_id

    def load(self) -> KeySet | None:
        parameter = self.store.get(self.paths.signing_keyset)
        return None if parameter is None else KeySet.from_json(parameter.value)

    def published_kids(self) -> set[str]:
        parameter = self.store.get(self.paths.public_jwks)
        if parameter is None:
            return set()
        try:
            return {str(key["kid"]) for key in json.loads(parameter.value)["keys"]}
        except (ValueError, KeyError, TypeError):
            return set()

    def save(self, keyset: KeySet, *, previous: KeySet | None = None) -> None:
        """Write ``keyset`` (replacing ``previous``) publish-first; see the module's docstring."""
        new_kids = {key.kid for key in keyset.keys}
        union = [*keyset.keys, *(k for k in (previous.keys if previous else ()) if k.kid not in new_kids)]
        self._publish(union)
        self.store.put(
            self.paths.signing_keyset,
            keyset.to_json(),
            secret=True,
            description="claimflow signing keys (private)",
            key_id=self.keyset_key_id,
        )
        if len(union) != len(keyset.keys):
            self._publish(list(keyset.keys))
        self.store.put(self.paths.signing_status, json.dumps(self.status_document(keyset)), description="claimflow key states")
        old_kids = {key.kid for key in previous.keys} if previous else set()
        for key in keyset.keys:
            if key.kid not in old_kids:
                self.keys.recorded(key)
        for key in union[len(keyset.keys) :]:
            self.keys.retired(key)

    def status_document(self, keyset: KeySet) -> dict[str, object]:
        """The key set without key material: readable by operators who may not decrypt it."""
        fields = ("kid", "alg", "status", "created_at", "activated_at", "deactivated_at", "kms_key_id")
        keys = [{name: value for name, value in key.to_wire().items() if name in fields} for key in keyset.keys]
        return {"store": self.keys.name, "keys": keys}

    def load_status(self) -> KeySet | None:
        """The key set as ``status_document`` recorded it (public halves and times only)."""
        parameter = self.store.get(self.paths.signing_status)
        if parameter is None:
            return None
        document = json.loads(parameter.value)
        return KeySet(tuple(KeyEntry.from_wire({**key, "jwk": {}}) for key in document["keys"]))

    def _publish(self, keys: list[KeyEntry]) -> None:
        jwks = {"keys": [key.public_jwk() for key in keys]}
        self.store.put(self.paths.public_jwks, json.dumps(jwks), description="claimflow JWKS (public)")

    def init(self, *, alg: str, force: bool = False, now: int | None = None) -> KeySet:
        if self.load() is not None and not force:
            raise ClaimflowError(
                f"a key set already exists at {self.paths.signing_keyset}; use 'rotate', or --force to replace it"
            )
        keyset = KeySet.initial(alg, now=int(time.time()) if now is None else now, make=self.keys.make)
        self.save(keyset, previous=self.load() if force else None)
        return keyset

    def update(
        self,
        step: str,
        *,
        now: int | None = None,
        grace_seconds: int = DEFAULT_GRACE_SECONDS,
        keep_previous: int = 1,
        alg: str | None = None,
    ) -> KeySet:
        current = self.load()
        if current is None:
            raise ClaimflowError(f"no key set at {self.paths.signing_keyset}; run 'init' first")
        moment = int(time.time()) if now is None else now
        if step in ("rotate", "promote") and current.pending is not None:
            self._require_published(current.pending)
        if step == "rotate":
            keyset = current.rotate(
                now=moment, grace_seconds=grace_seconds, keep_previous=keep_previous, alg=alg, make=self.keys.make
            )
        elif step == "add":
            keyset = current.add_next(alg, now=moment, make=self.keys.make)
        elif step == "promote":
            keyset = current.promote(now=moment, grace_seconds=grace_seconds)
        elif step == "retire":
            keyset = current.retire(keep_previous=keep_previous)
        else:
            raise ClaimflowError(f"unknown key step {step!r}")
        self.save(keyset, previous=current)
        return keyset

    def advance(self, *, now: int, policy: RotationPolicy, alg: str | None = None) -> tuple[KeySet, list[str]]:
        """What is due at ``now``, in one publish-first save: retire keys whose tokens have all
        expired, promote a next key published ``grace`` ago, publish a next key when the active
        one has signed for ``period``. Safe to run again at any time: what is not due is not done."""
        current = self.load()
        if current is None:
            raise ClaimflowError(f"no key set at {self.paths.signing_keyset}; run 'init' first")
        self.keys.reconcile(current)
        keyset, actions = current, []
        kept = keyset.retire_expired(now=now, after_seconds=policy.retire_after_seconds)
        if kept != keyset:
            actions += [f"retired {k.kid}" for k in keyset.keys if k not in kept.keys]
            keyset = kept
        pending = keyset.pending
        if pending is not None and now >= pending.created_at + policy.grace_seconds:
            self._require_published(pending)
            actions.append(f"promoted {pending.kid} (was {keyset.active.kid})")
            keyset = keyset.promote(now=now, grace_seconds=policy.grace_seconds)
        active = keyset.active
        started = active.activated_at if active.activated_at is not None else active.created_at
        if keyset.pending is None and now >= started + policy.period_seconds:
            keyset = keyset.add_next(alg, now=now, make=self.keys.make)
            actions.append(f"published {keyset.pending.kid if keyset.pending else '?'}")
        if actions:
            self.save(keyset, previous=current)
        return keyset, actions

    def _require_published(self, key: KeyEntry) -> None:
        if key.kid not in self.published_kids():
            raise SigningKeyError(
                f"key {key.kid} is not in the published JWKS at {self.paths.public_jwks}, so it may not sign yet; "
                "run 'keys publish' to publish it, then wait the grace period"
            )

    def publish(self) -> KeySet:
        """Publish the stored key set's public keys again (repairs a JWKS write that failed)."""
        current = self.load()
        if current is None:
            raise ClaimflowError(f"no key set at {self.paths.signing_keyset}; run 'init' first")
        self._publish(list(current.keys))
        return current
