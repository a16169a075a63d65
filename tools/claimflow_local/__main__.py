"""``python -m claimflow_local demo|dev``."""

import sys

from claimflow_local.cli.demo import run_demo, run_dev


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else "demo"
    if command == "demo":
        return run_demo()
    if command == "dev":
        return run_dev()
    print("usage: python -m claimflow_local demo|dev", file=sys.stderr)
    return 2


sys.exit(main())
