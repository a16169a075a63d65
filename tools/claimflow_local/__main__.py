"""``python -m claimflow_local demo|dev`` (``make demo``, ``make dev``): for the project the
working folder is in (the nearest template.yaml above it; this checkout otherwise)."""

import sys
from pathlib import Path

from claimflow_local.cli.demo import run_demo, run_dev
from claimflow_local.cli.errors import CommandError, find_root
from claimflow_local.stack.deployment import PROJECT_ROOT


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else "demo"
    try:
        root = find_root(Path.cwd())
    except CommandError:
        root = PROJECT_ROOT
    if command == "demo":
        return run_demo(root=root)
    if command == "dev":
        return run_dev(root=root)
    print("usage: python -m claimflow_local demo|dev", file=sys.stderr)
    return 2


sys.exit(main())
