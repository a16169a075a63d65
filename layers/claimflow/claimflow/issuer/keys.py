"""Key management over the parameter store: the steps of rotation applied to the stored key
set. ``./claimflow keys`` drives it; it writes the private key set (SecureString) and the
public JWKS (String) together, so the JWKS endpoint publishes every key the issuer may sign
with or has signed with.

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
from claimflow.issuer.signing import KeySet

__all__ = ["KeyManager"]


class KeyManager:
    def __init__(self, store: ParameterStore, paths: SsmPaths) -> None:
        self.store = store
        self.paths = paths

    def load(self) -> KeySet | None:
        parameter = self.store.get(self.paths.signing_keyset)
        return None if parameter is None else KeySet.from_json(parameter.value)

    def save(self, keyset: KeySet) -> None:
        self.store.put(self.paths.signing_keyset, keyset.to_json(), secret=True, description="claimflow signing keys (private)")
        self.store.put(self.paths.public_jwks, json.dumps(keyset.public_jwks()), description="claimflow JWKS (public)")

    def init(self, *, alg: str, force: bool = False, now: int | None = None) -> KeySet:
        if self.load() is not None and not force:
            raise ClaimflowError(
                f"a key set already exists at {self.paths.signing_keyset}; use 'rotate', or --force to replace it"
            )
        keyset = KeySet.initial(alg, now=int(time.time()) if now is None else now)
        self.save(keyset)
        return keyset

    def update(
        self, step: str, *, now: int | None = None, grace_seconds: int = 3600, keep_previous: int = 1, alg: str | None = None
    ) -> KeySet:
        keyset = self.load()
        if keyset is None:
            raise ClaimflowError(f"no key set at {self.paths.signing_keyset}; run 'init' first")
        moment = int(time.time()) if now is None else now
        if step == "rotate":
            keyset = keyset.rotate(now=moment, grace_seconds=grace_seconds, keep_previous=keep_previous, alg=alg)
        elif step == "add":
            keyset = keyset.add_next(alg, now=moment)
        elif step == "promote":
            keyset = keyset.promote(now=moment, grace_seconds=grace_seconds)
        elif step == "retire":
            keyset = keyset.retire(keep_previous=keep_previous)
        else:
            raise ClaimflowError(f"unknown key step {step!r}")
        self.save(keyset)
        return keyset
