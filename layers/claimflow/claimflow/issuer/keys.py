"""The key CLI: ``python -m claimflow.issuer.keys init|rotate|add|promote|retire|show``.

Writes the private key set (SecureString) and the public JWKS (String) together, so the
JWKS endpoint always publishes every key the issuer may sign with or has signed with.
Rotation that keeps old tokens valid: ``rotate`` publishes a next key; after the grace
period (longer than resource servers cache the JWKS) ``rotate`` again promotes it and
retires the oldest previous keys beyond ``--keep-previous``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from claimflow.config import SsmPaths
from claimflow.errors import ClaimflowError
from claimflow.issuer.signing import SUPPORTED_ALGORITHMS, KeySet
from claimflow.parameters import ParameterStore

__all__ = ["KeyManager", "main"]


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


def describe(keyset: KeySet) -> str:
    return "\n".join(
        f"{k.status:9} {k.kid}  {k.alg}  created {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(k.created_at))}Z"
        for k in keyset.keys
    )


def main(argv: Sequence[str] | None = None, *, store: ParameterStore | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m claimflow.issuer.keys", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["init", "rotate", "add", "promote", "retire", "show"])
    parser.add_argument("--stage", help="stage whose keys to manage (default: $CLAIMFLOW_STAGE or 'local')")
    parser.add_argument("--alg", choices=SUPPORTED_ALGORITHMS, default=None, help="algorithm of a new key (init default RS256)")
    parser.add_argument("--grace-seconds", type=int, default=3600, help="how long a next key is published before it may sign")
    parser.add_argument("--keep-previous", type=int, default=1, help="previous keys kept published after a promotion")
    parser.add_argument("--force", action="store_true", help="with init: replace an existing key set")
    args = parser.parse_args(argv)
    if store is None:
        from claimflow.ssm import SsmParameterStore

        store = SsmParameterStore(max_age=0)
    manager = KeyManager(store, SsmPaths(stage=args.stage))
    try:
        if args.command == "init":
            keyset = manager.init(alg=args.alg or "RS256", force=args.force)
        elif args.command == "show":
            loaded = manager.load()
            if loaded is None:
                raise ClaimflowError(f"no key set at {manager.paths.signing_keyset}; run 'init' first")
            keyset = loaded
        else:
            keyset = manager.update(
                args.command, grace_seconds=args.grace_seconds, keep_previous=args.keep_previous, alg=args.alg
            )
    except ClaimflowError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(describe(keyset))
    return 0


if __name__ == "__main__":
    sys.exit(main())
