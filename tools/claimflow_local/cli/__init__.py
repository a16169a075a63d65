"""``claimflow``: the workflow author's command line.

claimflow new NAME --trigger user:tokens_generation|m2m:token_generation [--bindings kinde.env ...] [--policy stop|continue]
claimflow check
claimflow env set|get|list|unset NAME [VALUE | -] [--from-file PATH] [--secret] [--workflow ID] --stage STAGE [--local]
claimflow preview --event FILE [--against local|STACK] [--json]
claimflow keys init|rotate|add|promote|retire|publish|show [--stage STAGE] [--local] ...
claimflow replay [PATH ...] [--workflow ID] [--json]  |  explain TOKEN [--stage STAGE]  |  recordings pull --stage STAGE

Every failure is one line on standard error naming the fix, and exit status 2 (1 for check's
problems and preview's denials); never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from claimflow.binding_table import BINDINGS
from claimflow.triggers import WorkflowTrigger
from claimflow_local.cli import explain, keys, recordings, replay
from claimflow_local.cli.check import check_project
from claimflow_local.cli.env import EnvCommandError, EnvironmentManager, read_value
from claimflow_local.cli.errors import CommandError, reaching_aws, ssm_client
from claimflow_local.cli.new import scaffold
from claimflow_local.cli.preview import preview, render

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="claimflow", description="claimflow workflow tools")
    parser.add_argument("--root", type=Path, default=Path("."), help="the project (where template.yaml is)")
    commands = parser.add_subparsers(dest="command", required=True)

    new = commands.add_parser("new", help="scaffold a workflow, its event, its test and its template entries")
    new.add_argument("name")
    new.add_argument("--trigger", required=True, choices=[t.value for t in WorkflowTrigger])
    new.add_argument(
        "--bindings",
        nargs="*",
        default=[],
        metavar="BINDING",
        help="what the workflow uses: " + "; ".join(f"{name}: {spec.summary}" for name, spec in BINDINGS.items()),
    )
    new.add_argument("--policy", default="stop", choices=["stop", "continue"])

    commands.add_parser("check", help="fail when the code and template.yaml disagree")

    env = commands.add_parser("env", help="environment variables of workflows (SSM)")
    env.add_argument("action", choices=["set", "get", "list", "unset"])
    env.add_argument("name", nargs="?")
    env.add_argument("value", nargs="?", help="the value; - reads it from standard input (keeps it out of shell history)")
    env.add_argument("--from-file", type=Path, help="read the value from a file")
    newline = env.add_mutually_exclusive_group()
    newline.add_argument("--strip-newline", dest="newline", action="store_const", const="strip", help="drop a final newline")
    newline.add_argument("--keep-newline", dest="newline", action="store_const", const="keep", help="store a final newline")
    env.add_argument("--secret", action="store_true", help="store as a SecureString")
    env.add_argument("--workflow", help="a workflow's own variable (default: stage-wide)")
    env.add_argument("--stage", required=True)
    env.add_argument("--local", action="store_true", help="the embedded SSM of `make dev` instead of AWS")

    prev = commands.add_parser("preview", help="dry-run a token request and show what each workflow did")
    prev.add_argument("--event", type=Path, required=True, help="a token request, e.g. events/issuer.user-token.json")
    prev.add_argument("--against", default="local", help="'local' (default) or a deployed stack's name")
    prev.add_argument("--json", action="store_true")

    keys.add_arguments(
        commands.add_parser("keys", help="signing keys of a stage (init, rotate, add, promote, retire, publish, show)")
    )
    replay.add_arguments(commands.add_parser("replay", help="replay recorded logins against the working tree, claim by claim"))
    explain.add_arguments(commands.add_parser("explain", help="where each custom claim of a token came from"))
    recordings.add_arguments(commands.add_parser("recordings", help="a stage's recorded logins (pull)"))
    return parser


def _env(args: argparse.Namespace) -> str:
    manager = EnvironmentManager(ssm_client(local=args.local), stage=args.stage)
    with reaching_aws(local=args.local):
        if args.action == "list":
            return "\n".join(manager.list(workflow=args.workflow)) or "(none)"
        if not args.name:
            raise EnvCommandError(f"env {args.action} needs a NAME")
        if args.action == "get":
            return manager.get(args.name, workflow=args.workflow)
        if args.action == "unset":
            return manager.unset(args.name, workflow=args.workflow)
        value = read_value(args.value, from_file=args.from_file, stdin=sys.stdin, newline=args.newline)
        if args.secret and args.value not in (None, "-"):
            print("note: the secret is now in your shell history; VALUE - reads it from standard input instead", file=sys.stderr)
        return manager.set(args.name, value, secret=args.secret, workflow=args.workflow)


def _new(args: argparse.Namespace) -> str:
    root: Path = args.root.resolve()
    made = scaffold(root, args.name, trigger=args.trigger, bindings=args.bindings, policy=args.policy)
    lines = [f"wrote {path.relative_to(root)}" for path in made.written]
    event = made.event.relative_to(root)
    lines += [
        f"workflow {made.workflow_id} is function {made.logical_id}",
        f"  run it alone:  sam build && sam local invoke {made.logical_id} -e {event}",
        "  with the kit:  make test (its test is in tests/workflows/); then make demo or make dev",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root: Path = args.root
    try:
        if args.command == "new":
            print(_new(args))
        elif args.command == "check":
            report = check_project(root)
            for line in [*report.problems, *(f"warning: {w}" for w in report.warnings)]:
                print(line)
            noted = f" ({len(report.warnings)} warning(s))" if report.warnings else ""
            print(
                f"claimflow check: {len(report.problems)} problem(s){noted}"
                if report.problems
                else f"claimflow check: code and template agree{noted}"
            )
            return 1 if report.problems else 0
        elif args.command == "env":
            print(_env(args))
        elif args.command in ("replay", "explain", "recordings"):
            return {"replay": replay.run, "explain": explain.run, "recordings": recordings.run}[args.command](args)
        elif args.command == "preview":
            result = preview(args.event, against=args.against, root=root)
            print(render(result, as_json=args.json))
            return 0 if result.ok else 1
        else:
            print(keys.run(args))
    except CommandError as error:
        print(f"claimflow {args.command}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
