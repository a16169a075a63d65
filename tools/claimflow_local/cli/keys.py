"""``claimflow keys init|rotate|add|promote|retire|publish|show|status|policy [--stage S] [--local]``: a stage's signing keys.

Writes the key set (SecureString), the public JWKS and each key's state together through
``claimflow.keys.manager.KeyManager``. The deployed stack rotates by itself (the hourly key
rotation function); ``status`` shows each key's state and when it moves next, from the
stage's key states (no key material, no decryption needed). By hand: ``rotate`` publishes a
next key; after the grace period (longer than resource servers cache the JWKS) ``rotate``
again promotes it and retires the oldest previous keys beyond ``--keep-previous``. ``policy``
prints the key policy a stage's KMS keys are made with, for the caller's account (to give it to
a key made before key policies, with ``aws kms put-key-policy``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from claimflow.environment import SsmPaths
from claimflow.errors import ClaimflowError
from claimflow.infra.parameters import ParameterStore
from claimflow.keys.keyset import SUPPORTED_ALGORITHMS, KeySet
from claimflow.keys.manager import CLOCK_SKEW_SECONDS, DEFAULT_GRACE_SECONDS, KeyManager, KeySource, LocalKeys, RotationPolicy
from claimflow_local.cli.errors import CommandError, aws_client, reaching_aws, ssm_client
from claimflow_local.stack.ports import local_url

__all__ = ["add_arguments", "describe", "describe_moves", "main", "run"]


def _when(moment: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(moment)) + "Z"


def describe(keyset: KeySet) -> str:
    return "\n".join(f"{k.status:9} {k.kid}  {k.alg}  created {_when(k.created_at)}" for k in keyset.keys)


def describe_moves(keyset: KeySet, policy: RotationPolicy, *, now: int) -> str:
    """Each key, where it lives, and its next move with when (overdue moves say so)."""
    lines = []
    for key, move, moment in policy.moves(keyset):
        where = "KMS" if key.kms_key_id else "SSM"
        due = "due now (the next hourly run does it)" if moment <= now else f"at {_when(moment)}"
        lines.append(f"{key.status:9} {key.kid}  {key.alg} in {where}  next: {move} {due}")
    return "\n".join(lines)


def account_principal(*, local: bool) -> str:
    """The account a new KMS key's policy lets administer it: make dev's (moto's), or the caller's."""
    if local:
        from claimflow_local.template import ACCOUNT

        return f"arn:aws:iam::{ACCOUNT}:root"

    caller = aws_client("sts").get_caller_identity()
    return f"arn:{caller['Arn'].split(':')[1]}:iam::{caller['Account']}:root"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["init", "rotate", "add", "promote", "retire", "publish", "show", "status", "policy"])
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
    parser.add_argument("--store", choices=["ssm", "kms"], default="ssm", help="where new keys are made (SigningKeyStore)")
    parser.add_argument(
        "--keyset-key", help="the KMS key (alias) the key set is encrypted under, e.g. alias/claimflow/<stage>/keyset"
    )
    parser.add_argument("--period-days", type=int, default=30, help="with status: KeyRotationPeriodDays of the stack")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="with status: the longest token lifetime, seconds")


def run(args: argparse.Namespace, *, store: ParameterStore | None = None, endpoint: str | None = None) -> str:
    """Do ``args.action``; return the key set as ``show`` prints it. Raises ``CommandError``.
    ``endpoint``: the local stack's AWS (with ``--local``; default make dev's ports)."""
    if args.action == "policy":
        from claimflow.keys.kms_keys import signing_key_policy

        with reaching_aws(local=args.local, service="STS"):
            account = account_principal(local=args.local)
        return json.dumps(signing_key_policy(stage=SsmPaths(stage=args.stage).stage, account=account), indent=2)
    if store is None:
        from claimflow.infra.ssm import SsmParameterStore

        store = SsmParameterStore(client=ssm_client(local=args.local, endpoint=endpoint), max_age=0)
    paths = SsmPaths(stage=args.stage)
    try:
        with reaching_aws(local=args.local):
            keys: KeySource = LocalKeys()
            if args.store == "kms":
                from claimflow.infra.kms_api import KmsApi
                from claimflow.infra.sigv4 import Credentials
                from claimflow.keys.kms_keys import KmsKeys

                local_kms = endpoint or local_url("ssm")
                local = {"endpoint": local_kms, "credentials": Credentials("testing", "testing")} if args.local else {}
                keys = KmsKeys(KmsApi(**local), stage=paths.stage, account=account_principal(local=args.local))  # type: ignore[arg-type]
            manager = KeyManager(store, paths, keys=keys, keyset_key_id=args.keyset_key)
            if args.action == "status":
                recorded = manager.load_status()
                if recorded is None:
                    raise CommandError(f"no key states at {paths.signing_status}; run the key rotation function or 'keys init'")
                policy = RotationPolicy(
                    period_seconds=args.period_days * 86400,
                    grace_seconds=args.grace_seconds,
                    retire_after_seconds=args.token_lifetime + CLOCK_SKEW_SECONDS,
                )
                return describe_moves(recorded, policy, now=int(time.time()))
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
