"""``make bench``: run every benchmark, print each against its target, write
bench/results.json and the table in docs/performance.md (the docs site's Performance page).

    python -m bench [--only KEY_PREFIX ...] [--no-docs]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import cases, cold, emulated, hooks
from claimflow_local.stack.ssm import EmbeddedSsm
from claimflow_local.stack.third_party import StubThirdPartyApi

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).with_name("results.json")
DOC = ROOT / "docs" / "performance.md"
TABLE_START, TABLE_END = "<!-- bench:start -->", "<!-- bench:end -->"


def verdict(value: Any, info: dict[str, Any]) -> str:
    """'met', 'MISSED' or 'report' (no target)."""
    if "target" not in info:
        return "report"
    target = info["target"]
    if isinstance(target, bool) or not isinstance(value, (int, float)) or isinstance(value, bool):
        return "met" if value == target else "MISSED"
    better_high = info.get("higher_is_better", False)
    return "met" if (value >= target if better_high else value <= target) else "MISSED"


def table(numbers: dict[str, Any], details: dict[str, dict[str, Any]]) -> str:
    rows = ["| figure | value | target | verdict | what, against what |", "|---|---|---|---|---|"]
    for key, value in numbers.items():
        info = details.get(key, {})
        target = info.get("target")
        sign = (
            "—"
            if target is None
            else (f"≥ {target}" if info.get("higher_is_better") else f"≤ {target}")
            if not isinstance(target, bool)
            else str(target).lower()
        )
        shown = str(value).lower() if isinstance(value, bool) else value
        against = f"; vs {info['baseline']}" if "baseline" in info else ""
        rows.append(f"| `{key}` | {shown} | {sign} | {verdict(value, info)} | {info.get('what', '')}{against} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", nargs="*", default=[], help="run the steps whose title starts with one of these")
    parser.add_argument("--no-docs", action="store_true", help=f"do not rewrite the table in {DOC.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    if not args.no_docs and not args.only and TABLE_START not in DOC.read_text():  # say so before minutes of work
        parser.error(f"{DOC.relative_to(ROOT)} has no {TABLE_START} block for the table; restore it or pass --no-docs")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")  # the embedded SSM takes any signature
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    numbers: dict[str, Any] = {}
    details: dict[str, dict[str, Any]] = {}
    stub = StubThirdPartyApi(subscribers=["w0", "w1", "w2", "w3", "kp_6a0713b9e5d14c3e9a2f0c4d8b7e1f21"]).start()
    ssm = EmbeddedSsm().start()
    started = time.perf_counter()
    steps: list[tuple[str, Callable[[], tuple[dict[str, Any], dict[str, dict[str, Any]]]]]] = [
        ("issuer core RS256", lambda: cases.issuer_core_vs_sign("RS256")),
        ("issuer core ES256", lambda: cases.issuer_core_vs_sign("ES256")),
        ("in-process workflow overhead", cases.inprocess_workflow_overhead),
        ("seed workflows", cases.seed_workflows_issue_vs_sign),
        ("lambda invoke CPU", cases.issuer_cpu_per_lambda_invoke),
        ("cold starts", lambda: cold.cold_starts(ssm, stub)),
        ("ssm calls per TTL", lambda: cases.ssm_calls_per_path_per_ttl(ssm)),
        ("fan-out", lambda: cases.fanout(stub)),
        ("tcp connections", lambda: cases.tcp_connections(stub)),
        ("peak rss", emulated.peak_rss),
        ("claims hooks", hooks.claims_hooks),
    ]
    try:
        for title, step in steps:
            if args.only and not any(title.startswith(prefix) for prefix in args.only):
                continue
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
    if not args.only:  # a partial run never replaces the full record
        OUT.write_text(json.dumps({**numbers, "machine": machine, "details": details}, indent=2) + "\n")
    print(f"\n{'benchmark':44} {'value':>10}  {'target':>8}  verdict")
    for key, value in numbers.items():
        info = details.get(key, {})
        print(f"{key:44} {value!s:>10}  {info.get('target', '—')!s:>8}  {verdict(value, info)}")
    elapsed = time.perf_counter() - started
    print(f"\n{machine['cores']} cores, Python {machine['python']}; {elapsed:.0f} s" + ("" if args.only else f"; wrote {OUT}"))
    if not args.no_docs and not args.only:
        write_table(DOC, table(numbers, details))
        print(f"rewrote the table in {DOC.relative_to(ROOT)}")
    return 0


def write_table(page: Path, rows: str) -> None:
    """Replace what lies between the page's bench markers with ``rows``; a page without them is an error."""
    text = page.read_text()
    pattern = re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END)
    if not re.search(pattern, text, flags=re.S):
        raise SystemExit(f"{page} has no {TABLE_START} … {TABLE_END} block to rewrite")
    block = f"{TABLE_START}\n{rows}\n{TABLE_END}"
    page.write_text(re.sub(pattern, lambda _: block, text, flags=re.S))


if __name__ == "__main__":
    sys.exit(main())
