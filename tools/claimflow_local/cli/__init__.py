"""``claimflow``: the workflow author's command line.

claimflow new NAME --trigger user:tokens_generation|m2m:token_generation [--bindings kinde.env kinde.fetch ...]
claimflow check
claimflow env set|get|list|unset NAME [VALUE] [--secret] [--workflow ID] --stage STAGE [--local]
claimflow preview --event FILE [--against local|STACK] [--json]
claimflow keys init|rotate|add|promote|retire|show [--stage STAGE] ...
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from claimflow.triggers import WorkflowTrigger
from claimflow_local.cli.check import find_problems
from claimflow_local.cli.env import EnvCommandError, EnvironmentManager, ssm_client
from claimflow_local.cli.new import ScaffoldError, scaffold
from claimflow_local.cli.preview import preview, render
from claimflow_local.stack.ports import local_url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="claimflow", description="claimflow workflow tools")
    parser.add_argument("--root", type=Path, default=Path("."), help="the project (where template.yaml is)")
    commands = parser.add_subparsers(dest="command", required=True)

    new = commands.add_parser("new", help="scaffold a workflow, its event, its test and its template entries")
    new.add_argument("name")
    new.add_argument("--trigger", required=True, choices=[t.value for t in WorkflowTrigger])
    new.add_argument("--bindings", nargs="*", default=[], help="e.g. kinde.env kinde.fetch kinde.auth")
    new.add_argument("--policy", default="stop", choices=["stop", "continue"])

    commands.add_parser("check", help="fail when the code and template.yaml disagree")

    env = commands.add_parser("env", help="environment variables of workflows (SSM)")
    env.add_argument("action", choices=["set", "get", "list", "unset"])
    env.add_argument("name", nargs="?")
    env.add_argument("value", nargs="?")
    env.add_argument("--secret", action="store_true", help="store as a SecureString")
    env.add_argument("--workflow", help="a workflow's own variable (default: stage-wide)")
    env.add_argument("--stage", required=True)
    env.add_argument("--local", action="store_true", help="the embedded SSM of `make dev` instead of AWS")

    prev = commands.add_parser("preview", help="dry-run a token request and show what each workflow did")
    prev.add_argument("--event", type=Path, required=True, help="a token request, e.g. events/issuer.user-token.json")
    prev.add_argument("--against", default="local", help="'local' (default) or a deployed stack's name")
    prev.add_argument("--json", action="store_true")

    keys = commands.add_parser("keys", help="signing keys of a stage (init, rotate, add, promote, retire, show)", add_help=False)
    keys.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _env(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    manager = EnvironmentManager(ssm_client(local=args.local), stage=args.stage)
    try:
        if args.action == "list":
            print("\n".join(manager.list(workflow=args.workflow)) or "(none)")
            return 0
        if not args.name:
            raise EnvCommandError(f"env {args.action} needs a NAME")
        if args.action == "set":
            if args.value is None:
                raise EnvCommandError("env set needs a VALUE")
            print(manager.set(args.name, args.value, secret=args.secret, workflow=args.workflow))
        elif args.action == "get":
            print(manager.get(args.name, workflow=args.workflow))
        else:
            print(manager.unset(args.name, workflow=args.workflow))
        return 0
    except (BotoCoreError, ClientError) as error:
        where = f"make dev's SSM at {local_url('ssm')} (is make dev running?)" if args.local else "AWS SSM (credentials, region?)"
        raise EnvCommandError(f"cannot reach {where}: {error}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root: Path = args.root
    try:
        if args.command == "new":
            for path in scaffold(root, args.name, trigger=args.trigger, bindings=args.bindings, policy=args.policy):
                print(f"wrote {path.relative_to(root.resolve()) if path.is_absolute() else path}")
            print("next: make test (its test runs with the kit), then make demo / make dev")
            return 0
        if args.command == "check":
            problems = find_problems(root)
            for problem in problems:
                print(problem)
            print(f"claimflow check: {len(problems)} problem(s)" if problems else "claimflow check: code and template agree")
            return 1 if problems else 0
        if args.command == "env":
            return _env(args)
        if args.command == "preview":
            result = preview(args.event, against=args.against, root=root)
            print(render(result, as_json=args.json))
            return 0 if result.ok else 1
        if args.command == "keys":
            from claimflow_local.cli.keys import main as keys_main

            return keys_main(args.rest)
    except (ScaffoldError, EnvCommandError) as error:
        print(f"claimflow {args.command}: {error}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
