"""The author's loop, timed (issue 25's Show): ``python -m bench.author_loop [--runs 5]`` walks
tests/functional/author_loop.py's loop in a fresh project copy each run and prints each step's
median, min and max seconds as JSON (and writes bench/author-loop-results.json).

Targets (issue 25): save → a token carrying the change ≤ 2 s; preview against a running make
dev ≤ 1 s; make dev stops in ≤ 2 s.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.functional.author_loop import walk

OUT = Path(__file__).with_name("author-loop-results.json")
TARGETS = {"save_to_token": 2.0, "preview": 1.0, "make_dev_stop": 2.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.author_loop")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    runs: list[dict[str, float]] = []
    for number in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="claimflow-loop-") as scratch:
            started = time.perf_counter()
            times, _ = walk(Path(scratch))
        runs.append(times)
        print(
            f"run {number + 1}/{args.runs} in {time.perf_counter() - started:.1f} s: "
            + ", ".join(f"{k}={v:.2f}" for k, v in times.items()),
            file=sys.stderr,
            flush=True,
        )
    steps = [step for step in runs[0] if all(step in run for run in runs)]
    summary = {
        step: {
            "median_s": round(statistics.median(run[step] for run in runs), 3),
            "min_s": round(min(run[step] for run in runs), 3),
            "max_s": round(max(run[step] for run in runs), 3),
            **({"target_s": TARGETS[step]} if step in TARGETS else {}),
        }
        for step in steps
    }
    result = {"runs": args.runs, "machine": f"{platform.machine()}, {platform.python_version()}", "steps": summary}
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    missed = [s for s, v in summary.items() if "target_s" in v and v["median_s"] > v["target_s"]]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
