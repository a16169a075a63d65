"""Collecting the tests reads no wall clock: a value computed at collection (a signature's
timestamp in a parametrize list, a module-level ``now``) is minutes old by the time its test
runs on a busy machine, and the test then fails for a reason it does not test."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support import ROOT

#: Collects every tier with time.time and time.time_ns recording each call made from tests/.
_COLLECT = """
import json, sys, time
import pytest

tests, calls = sys.argv[1], []

def recording(real):
    def clock():
        caller = sys._getframe(1)
        if caller.f_code.co_filename.startswith(tests):
            calls.append(f"{caller.f_code.co_filename[len(tests):]}:{caller.f_lineno}")
        return real()
    return clock

time.time, time.time_ns = recording(time.time), recording(time.time_ns)
code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", tests])
print("CALLS " + json.dumps(sorted(set(calls))))
sys.exit(int(code))
"""


def test_collecting_the_tests_reads_no_wall_clock() -> None:
    run = subprocess.run(
        [sys.executable, "-c", _COLLECT, str(ROOT / "tests") + "/"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    (line,) = [line for line in run.stdout.splitlines() if line.startswith("CALLS ")]
    assert json.loads(line.removeprefix("CALLS ")) == [], "the clock is read while collecting, at these lines"
