"""``claimflow keys init|rotate|add|promote|retire|publish|show [--stage S] [--local]``: the signing keys of a stage, in SSM.

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
from claimflow_local.cli.errors import CommandError, reaching_aws, ssm_client

__all__ = ["add_arguments", "describe", "main", "run"]


def describe(keyset: KeySet) -> str:
    return "\n".join(
        f"{k.status:9} {k.kid}  {k.alg}  created {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(k.created_at))}Z"
        for k in keyset.keys
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["init", "rotate", "add", "promote", "retire", "publish", "show"])
    parser.add_argument("--stage", help="stage whose keys to manage (default: $CLAIMFLOW_STAGE or 'local')")
    parser.add_argument("--local", action="store_true", help="the embedded SSM of `make dev` instead of AWS")
    parser.add_argument("--alg", choices=SUPPORTED_ALGORITHMS, default=None, help="algorithm of a new key (init default RS256)")
    parser.add_argument(
        "--grace-seconds",
        type=int,
        default=DEFAULT_GRACE_SECONDS,
        help="how long a next key is published before it may sign (default 2 h 15 min: API Gateway caches JWKS up to 2 h)",
    )
    parser.add_argument("--keep-previous", type=int, default=1, help="previous keys kept published after a promotion")
    parser.add_argument("--force", action="store_true", help="with init: replace an existing key set")


def run(args: argparse.Namespace, *, store: ParameterStore | None = None) -> str:
    """Do ``args.action``; return the key set as ``show`` prints it. Raises ``CommandError``."""
    if store is None:
        from claimflow.infra.ssm import SsmParameterStore

        store = SsmParameterStore(client=ssm_client(local=args.local), max_age=0)
    manager = KeyManager(store, SsmPaths(stage=args.stage))
    try:
        with reaching_aws(local=args.local):
            if args.action == "init":
                keyset = manager.init(alg=args.alg or "RS256", force=args.force)
            elif args.action == "publish":
                keyset = manager.publish()
            elif args.action == "show":
                loaded = manager.load()
                if loaded is None:
                    raise CommandError(f"no key set at {manager.paths.signing_keyset}; run 'claimflow keys init' first")
                keyset = loaded
            else:
                keyset = manager.update(
                    args.action, grace_seconds=args.grace_seconds, keep_previous=args.keep_previous, alg=args.alg
                )
    except ClaimflowError as error:
        raise CommandError(str(error)) from None
    return describe(keyset)


def main(argv: Sequence[str] | None = None, *, store: ParameterStore | None = None) -> int:
    """``claimflow keys ...`` on its own (the stores of tests are passed in)."""
    parser = argparse.ArgumentParser(prog="claimflow keys", description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        print(run(parser.parse_args(argv), store=store))
    except CommandError as error:
        print(f"claimflow keys: {error}", file=sys.stderr)
        return 1
    return 0
