"""``claimflow``: the workflow author's command line.

claimflow new NAME --trigger user:tokens_generation|m2m:token_generation [--bindings kinde.env ...] [--policy stop|continue]
claimflow check
claimflow env set|get|list|unset NAME [VALUE | -] [--from-file PATH] [--secret] [--workflow ID] (--stage STAGE | --local)
claimflow preview --event FILE [--against local|STACK] [--json]
claimflow keys init|rotate|add|promote|retire|publish|show [--stage STAGE] [--local] ...
claimflow replay [PATH ...] [--workflow ID] [--json]  |  explain TOKEN [--stage STAGE]  |  recordings pull --stage STAGE

Every failure is one line on standard error naming the fix, and exit status 2 (1 for check's
problems and preview's denials); never a traceback (CLAIMFLOW_DEBUG=1 shows one for a bug).
The project is the nearest folder at or above the working one with a template.yaml, or --root.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from claimflow.binding_table import BINDINGS
from claimflow.triggers import WorkflowTrigger
from claimflow_local.cli import explain, keys, recordings, replay
from claimflow_local.cli.env import EnvCommandError, EnvironmentManager, LocalEnvironment, check_workflow, read_value
from claimflow_local.cli.errors import CommandError, find_root, reaching_aws, ssm_client
from claimflow_local.stack.local_state import running_dev

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="claimflow", description="claimflow workflow tools")
    root_help = "the project (where template.yaml is); default: the nearest folder above the working one that has it"
    parser.add_argument("--root", type=Path, default=None, help=root_help)
    commands = parser.add_subparsers(dest="command", required=True)
    _add = commands.add_parser

    def add_parser(name: str, **options: Any) -> argparse.ArgumentParser:  # --root after the command works too
        sub = _add(name, **options)
        sub.add_argument("--root", type=Path, default=argparse.SUPPRESS, help=root_help)
        return sub

    commands.add_parser = add_parser  # type: ignore[method-assign]

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
    env.add_argument("--stage", help="the stage (required for AWS; --local is local/settings.json's)")
    env.add_argument(
        "--local",
        action="store_true",
        help="the local stack instead of AWS: the running make dev's SSM, and local/state/env.json, which every local stack "
        "starts with",
    )

    prev = commands.add_parser("preview", help="dry-run a token request and show what each workflow did")
    prev.add_argument("--event", type=Path, required=True, help="a token request, e.g. events/issuer.user-token.json")
    prev.add_argument("--against", default="local", help="'local' (default) or a deployed stack's name")
    prev.add_argument("--json", action="store_true")

    keys.add_arguments(
        commands.add_parser(
            "keys", help="signing keys of a stage: init, rotate, add, promote, retire, publish, show, status, policy"
        )
    )
    replay.add_arguments(commands.add_parser("replay", help="replay recorded logins against the working tree, claim by claim"))
    explain.add_arguments(commands.add_parser("explain", help="where each custom claim of a token came from"))
    recordings.add_arguments(commands.add_parser("recordings", help="a stage's recorded logins (pull)"))
    return parser


def _env(args: argparse.Namespace, root: Path) -> str:
    if args.action != "list" and not args.name:
        raise EnvCommandError(f"env {args.action} needs a NAME")
    check_workflow(root, args.workflow)
    manager: EnvironmentManager | LocalEnvironment
    if args.local:
        manager = LocalEnvironment(root)
        manager.check_stage(args.stage)
    else:
        if not args.stage:
            raise EnvCommandError("env needs --stage STAGE for AWS (or --local for the local stack)")
        manager = EnvironmentManager(ssm_client(local=False), stage=args.stage)
    with reaching_aws(local=args.local):
        if args.action == "list":
            return "\n".join(manager.list(workflow=args.workflow)) or "(none)"
        if args.action == "get":
            return manager.get(args.name, workflow=args.workflow)
        if args.action == "unset":
            return manager.unset(args.name, workflow=args.workflow)
        value = read_value(args.value, from_file=args.from_file, stdin=sys.stdin, newline=args.newline)
        if args.secret and args.value not in (None, "-"):
            print("note: the secret is now in your shell history; VALUE - reads it from standard input instead", file=sys.stderr)
        return manager.set(args.name, value, secret=args.secret, workflow=args.workflow)


def _new(args: argparse.Namespace, root: Path) -> str:
    from claimflow_local.cli.new import scaffold

    made = scaffold(root, args.name, trigger=args.trigger, bindings=args.bindings, policy=args.policy)
    lines = [f"wrote {path.relative_to(root)}" for path in made.written]
    event = made.event.relative_to(root)
    test = next((path.relative_to(root) for path in made.written if path.parts[-2:-1] == ("workflows",)), "tests/workflows/")
    lines += [
        f"workflow {made.workflow_id} is function {made.logical_id}",
        f"  its test, with the kit:  .venv/bin/python -m pytest {test} -q",
        "  in a token:  make dev",
        f"  alone, with Docker:  make build && .venv-sam/bin/sam local invoke {made.logical_id} -e {event}",
    ]
    return "\n".join(lines)


def _root(args: argparse.Namespace) -> Path:
    given: Path | None = args.root
    if given is None:
        return find_root(Path.cwd())
    if not (given / "template.yaml").is_file():
        raise CommandError(f"--root {given}: no template.yaml there")
    return given.resolve()


def _local_ssm(args: argparse.Namespace) -> str | None:
    """The SSM of the make dev running for this project (None: make dev's default ports)."""
    try:
        dev = running_dev(_root(args), service="ssm")
    except CommandError:  # keys --local works outside a project too, on make dev's ports
        return None
    return dev.urls["ssm"] if dev else None


def _event_path(event: Path, root: Path) -> Path:
    """The event as given, from the working folder; else from the project's root (events/... from anywhere)."""
    return event if event.exists() or event.is_absolute() or not (root / event).exists() else root / event


def _run(args: argparse.Namespace) -> int:
    if args.command == "keys":
        print(keys.run(args, endpoint=_local_ssm(args) if args.local else None))
        return 0
    root = _root(args)
    if args.command == "new":
        print(_new(args, root))
    elif args.command == "check":
        from claimflow_local.cli.check import check_project  # each command imports what it needs: a quick start

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
        print(_env(args, root))
    elif args.command in ("replay", "explain", "recordings"):
        args.root = root
        run: Any = {"replay": replay.run, "explain": explain.run, "recordings": recordings.run}[args.command]
        return int(run(args))
    else:  # preview
        from claimflow_local.cli.preview import preview, render

        result = preview(_event_path(args.event, root), against=args.against, root=root)
        print(render(result, as_json=args.json))
        return 0 if result.ok else 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except CommandError as error:
        print(f"claimflow {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"claimflow {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a failure nobody foresaw: still one line, the traceback on request
        if os.environ.get("CLAIMFLOW_DEBUG"):
            raise
        print(
            f"claimflow {args.command}: {type(error).__name__}: {error} (a bug in claimflow's tools; "
            "CLAIMFLOW_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
