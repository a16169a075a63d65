"""Key management over the parameter store: the steps of rotation applied to the stored key
set. ``./claimflow keys`` drives it.

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

from claimflow.config import SsmPaths
from claimflow.errors import ClaimflowError
from claimflow.infra.parameters import ParameterStore
from claimflow.issuer.errors import SigningKeyError
from claimflow.issuer.signing import KeyEntry, KeySet

__all__ = ["DEFAULT_GRACE_SECONDS", "KeyManager"]

#: How long a new key is published before it signs: longer than resource servers cache the JWKS.
#: API Gateway's JWT authorizers may cache it for two hours; the margin covers clock and propagation.
DEFAULT_GRACE_SECONDS = 2 * 3600 + 15 * 60


class KeyManager:
    def __init__(self, store: ParameterStore, paths: SsmPaths) -> None:
        self.store = store
        self.paths = paths

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
        self.store.put(self.paths.signing_keyset, keyset.to_json(), secret=True, description="claimflow signing keys (private)")
        if len(union) != len(keyset.keys):
            self._publish(list(keyset.keys))

    def _publish(self, keys: list[KeyEntry]) -> None:
        jwks = {"keys": [key.public_jwk() for key in keys]}
        self.store.put(self.paths.public_jwks, json.dumps(jwks), description="claimflow JWKS (public)")

    def init(self, *, alg: str, force: bool = False, now: int | None = None) -> KeySet:
        if self.load() is not None and not force:
            raise ClaimflowError(
                f"a key set already exists at {self.paths.signing_keyset}; use 'rotate', or --force to replace it"
            )
        keyset = KeySet.initial(alg, now=int(time.time()) if now is None else now)
        self.save(keyset)
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
            keyset = current.rotate(now=moment, grace_seconds=grace_seconds, keep_previous=keep_previous, alg=alg)
        elif step == "add":
            keyset = current.add_next(alg, now=moment)
        elif step == "promote":
            keyset = current.promote(now=moment, grace_seconds=grace_seconds)
        elif step == "retire":
            keyset = current.retire(keep_previous=keep_previous)
        else:
            raise ClaimflowError(f"unknown key step {step!r}")
        self.save(keyset, previous=current)
        return keyset

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
