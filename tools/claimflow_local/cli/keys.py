"""``claimflow keys init|rotate|add|promote|retire|publish|show``: the signing keys of a stage, in SSM.

Writes the private key set (SecureString) and the public JWKS (String) together through
``claimflow.issuer.keys.KeyManager``. Rotation that keeps old tokens valid: ``rotate``
publishes a next key; after the grace period (longer than resource servers cache the JWKS)
``rotate`` again promotes it and retires the oldest previous keys beyond ``--keep-previous``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from claimflow.config import SsmPaths
from claimflow.errors import ClaimflowError
from claimflow.infra.parameters import ParameterStore
from claimflow.issuer.keys import DEFAULT_GRACE_SECONDS, KeyManager
from claimflow.issuer.signing import SUPPORTED_ALGORITHMS, KeySet

__all__ = ["describe", "main"]


def describe(keyset: KeySet) -> str:
    return "\n".join(
        f"{k.status:9} {k.kid}  {k.alg}  created {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(k.created_at))}Z"
        for k in keyset.keys
    )


def main(argv: Sequence[str] | None = None, *, store: ParameterStore | None = None) -> int:
    parser = argparse.ArgumentParser(prog="claimflow keys", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["init", "rotate", "add", "promote", "retire", "publish", "show"])
    parser.add_argument("--stage", help="stage whose keys to manage (default: $CLAIMFLOW_STAGE or 'local')")
    parser.add_argument("--alg", choices=SUPPORTED_ALGORITHMS, default=None, help="algorithm of a new key (init default RS256)")
    parser.add_argument(
        "--grace-seconds",
        type=int,
        default=DEFAULT_GRACE_SECONDS,
        help="how long a next key is published before it may sign (default 2 h 15 min: API Gateway caches JWKS up to 2 h)",
    )
    parser.add_argument("--keep-previous", type=int, default=1, help="previous keys kept published after a promotion")
    parser.add_argument("--force", action="store_true", help="with init: replace an existing key set")
    args = parser.parse_args(argv)
    if store is None:
        from claimflow.infra.ssm import SsmParameterStore

        store = SsmParameterStore(max_age=0)
    manager = KeyManager(store, SsmPaths(stage=args.stage))
    try:
        if args.command == "init":
            keyset = manager.init(alg=args.alg or "RS256", force=args.force)
        elif args.command == "publish":
            keyset = manager.publish()
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
