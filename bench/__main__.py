"""``make bench``: run every benchmark, print a table, write bench/results.json."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench import cases
from claimflow_local.stack.ssm import EmbeddedSsm
from claimflow_local.stack.third_party import StubThirdPartyApi

OUT = Path(__file__).with_name("results.json")


def main() -> int:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    numbers: dict[str, Any] = {}
    details: dict[str, dict[str, Any]] = {}
    stub = StubThirdPartyApi(subscribers=["w0", "w1"]).start()
    ssm = EmbeddedSsm().start()
    started = time.perf_counter()
    try:
        steps = [
            ("issue vs sign RS256", lambda: cases.issue_vs_sign("RS256")),
            ("issue vs sign ES256", lambda: cases.issue_vs_sign("ES256")),
            ("fan-out 4 x 100 ms", lambda: cases.fanout(stub)),
            ("SSM calls / 1000 tokens", lambda: cases.ssm_calls(ssm, stub)),
            ("TCP connections / 1000 fetches", lambda: cases.tcp_connections(stub)),
            ("imports", lambda: cases.imports(stub.url)),
            ("emulator and emulated issuance", cases.emulated),
        ]
        for title, step in steps:
            print(f"… {title}", file=sys.stderr, flush=True)
            values, info = step()
            numbers.update(values)
            details.update(info)
    finally:
        stub.stop()
        ssm.stop()
    machine = {"cores": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()}
    for key in numbers:
        details.setdefault(key, {})["cores"] = machine["cores"]
    OUT.write_text(json.dumps({**numbers, "machine": machine, "details": details}, indent=2) + "\n")
    print(f"\n{'benchmark':42} {'value':>10}  target / baseline")
    for key, value in numbers.items():
        info = details.get(key, {})
        target = info.get("target", "report")
        baseline = info.get("baseline", "")
        print(f"{key:42} {value!s:>10}  {target!s} {('vs ' + str(baseline)) if baseline else ''}"[:160])
    elapsed = time.perf_counter() - started
    print(f"\n{machine['cores']} cores, Python {machine['python']}; {elapsed:.0f} s; wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
