"""``make reliability``: run the fault, bad-input, SSRF and secret suites and the load test,
and write docs/reliability.md from what they measured.

    python -m bench.reliability [--requests 10000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from bench import load

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
SUITES = {
    "fault suite (emulator, moto, stand-in)": "tests/faults",
    "slow and hostile dependencies (fakes)": " ".join(
        ["tests/unit/test_issuer_under_slow_dependencies.py", "tests/unit/test_parameters_and_env.py"]
    ),
    "bad input (hand-written + hypothesis)": "tests/unit/test_bad_input.py",
    "malformed token requests, field by field": "tests/unit/test_issuer_rules.py",
    "SSRF, egress, redirects, parser differentials, drip": " ".join(
        ["tests/unit/test_egress_and_fetch.py", "tests/unit/test_ssrf_dns.py", "tests/functional/test_fetch_over_http.py"]
    ),
    "secrets never leak (every encoding, hypothesis)": " ".join(
        [
            "tests/functional/test_secrets.py",
            "tests/unit/test_secret_encodings.py",
            "tests/unit/test_workflow_handler.py::test_a_secret_value_never_reaches_logs_or_the_reply",
        ]
    ),
    "key rotation, each write failing in turn": "tests/unit/test_keys.py",
    "SSM outages: the stale bound, a rotation cycle under an outage": " ".join(
        ["tests/unit/test_stale_bound.py", "tests/functional/test_rotation_under_ssm_outage.py"]
    ),
    "local servers: framing, timeouts, example identity stack": " ".join(
        ["tests/functional/test_loopback_framing.py", "tests/functional/test_identity_stack_example.py"]
    ),
}
EXPECTED = {
    "test_third_party_faults": {"stop": "server_error naming the workflow", "continue": "token without the workflow's claims"},
    "test_misbehaving_workflows": {
        "stop": "server_error naming the workflow",
        "continue": "token with the healthy workflow's claims only",
    },
    "test_ssm_down_or_slow": {"stop": "server_error naming the workflow", "continue": "token without the workflow's claims"},
    "test_signing_key_missing_or_malformed": {
        "stop": "server_error saying how to fix the key set",
        "continue": "server_error saying how to fix the key set",
    },
}


def run_suite(paths: str, figures: Path) -> list[tuple[str, str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", f"--junitxml={report}", *paths.split()],
            cwd=ROOT,
            check=False,
            capture_output=True,
            env={**os.environ, "CLAIMFLOW_FIGURES": str(figures)},
        )
        cases = []
        for case in ET.parse(report).iter("testcase"):
            failed = case.find("failure") is not None or case.find("error") is not None
            skipped = case.find("skipped") is not None
            cases.append(
                (case.get("name", ""), "FAILED" if failed else "skipped" if skipped else "passed", float(case.get("time", 0)))
            )
        return cases


def fault_rows(cases: list[tuple[str, str, float]]) -> list[str]:
    rows = []
    for name, result, seconds in cases:
        match = re.fullmatch(r"(\w+)\[(.+)-(stop|continue)\]", name)
        if match and match.group(1) in EXPECTED:
            function, fault, policy = match.groups()
            rows.append(
                f"| {function.removeprefix('test_').replace('_', ' ')}: {fault} | {policy} | "
                f"{EXPECTED[function][policy]} | {result} | {seconds:.2f} |"
            )
        else:
            rows.append(
                f"| {name.removeprefix('test_').replace('_', ' ')} | — | as the test name says | {result} | {seconds:.2f} |"
            )
    return rows


FIGURES = {
    "slow_ssm_warm_cache": "SSM accepts and never answers after the key set and env TTLs expired (emulator)",
    "slow_ssm_warm_cache_unit": "the same, on fakes, 20 tokens",
    "slow_workflow_executions": "a workflow slower than the budget, with a side effect (emulator)",
    "hung_continue_workflows": "3 hung continue workflows beside a healthy stop workflow, sequential requests",
    "drip_drip": "third party dripping its body a byte per 0.5 s, fetch timeout 1 s",
    "drip_drip_headers": "third party dripping its status line and headers, fetch timeout 1 s",
    "secret_variants": "a secret with a trailing newline through every sink (log, JSON log, errors, URL, header, deny, claim)",
    "continue_oversize": "a continue workflow whose claims would pass the 8 KiB token limit",
    "rotation_write_failures": "each SSM write of init/add/promote/retire failing in turn: tokens signed by an unpublished key",
    "ssm_down_past_max_stale": "SSM down for longer than MaxStaleSeconds (cache TTL 1 s, MaxStaleSeconds 2 s; emulator): "
    "tokens served stale, then temporarily_unavailable; late_tokens: any signed past the bound",
    "rotation_under_ssm_outage": "a rotation cycle under an SSM outage (publish, promote, retire while the issuer cannot read "
    "SSM): tokens issued, requests refused, tokens that did not verify against the JWKS of their moment",
    "hook_replays_across_containers": "hook replays across containers: one signed call sent by racing callers (a container "
    "each) and again after a cold start",
    "hook_replays_warm_latency": "a signed hook call (one DynamoDB conditional put) and its replay on a warm issuer, "
    "against an API-key hook running the same workflows",
    "hook_replay_store_unreachable": "the hooks' replay table down or hanging: signed calls refused (fail closed)",
}


def figure_rows(figures: dict[str, list[object]]) -> list[str]:
    rows = ["| case | measured |", "|---|---|"]
    for name, title in FIGURES.items():
        values = figures.get(name)
        if not values:
            rows.append(f"| {title} | not measured |")
        elif name == "hook_replays_across_containers":
            rows += [
                f"| {title} | {v['accepted']} of {v['sends']} sends accepted across {v['containers']} containers |"  # type: ignore[index]
                for v in values
            ]
        elif name == "rotation_write_failures":
            unpublished = sum(int(v["unpublished"]) for v in values)  # type: ignore[index]
            rows.append(f"| {title} | {len(values)} failure points, {unpublished} tokens signed by an unpublished key |")
        else:
            rows.append(f"| {title} | {', '.join(json.dumps(v) for v in values)} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        figures_file = Path(tmp) / "figures.jsonl"
        figures_file.touch()
        suites = {title: run_suite(paths, figures_file) for title, paths in SUITES.items()}
        figures: dict[str, list[object]] = {}
        for line in figures_file.read_text().splitlines():
            entry = json.loads(line)
            figures.setdefault(entry["name"], []).append(entry["value"])
    print("… load", file=sys.stderr, flush=True)
    results = load.run(
        requests=args.requests, concurrency=args.concurrency, latency_ms=20.0, failure_rate=0.01, max_seconds=240.0
    )
    lines = [
        "# Reliability and security figures",
        "",
        f"Generated by `make reliability` on {time.strftime('%Y-%m-%d', time.gmtime(started))} "
        f"({__import__('os').cpu_count()} cores). Do not edit by hand.",
        "",
        "## Suites",
        "",
        "| suite | cases | passed | failed |",
        "|---|---|---|---|",
    ]
    for title, cases in suites.items():
        passed = sum(1 for c in cases if c[1] == "passed")
        lines.append(f"| {title} | {len(cases)} | {passed} | {sum(1 for c in cases if c[1] == 'FAILED')} |")
    lines += [
        "",
        "## Fault suite: each fault under each failure policy",
        "",
        "Issuance budget 3 s; every answer is a valid token or a clean OAuth error, never a partial token.",
        "",
        "| fault | policy | documented outcome (asserted) | result | seconds |",
        "|---|---|---|---|---|",
    ]
    lines += fault_rows(suites["fault suite (emulator, moto, stand-in)"])
    lines += ["", "## Slow and hostile dependencies: what the tests measured", ""]
    lines += figure_rows(figures)
    lines += [
        "",
        f"## Load: {args.requests} token requests at concurrency {args.concurrency}",
        "",
        "Through the local HTTP token endpoint, the issuer and both seed workflows in the emulator; the third-party "
        "stand-in adds 20 ms. Errors under `stop` with injected failures are the policy working (server_error naming "
        "the workflow); `unexpected` counts anything else.",
        "",
        "| scenario | answered | per s | p50 ms | p99 ms | tokens | errors | unexpected | lost |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        errors = ", ".join(f"{k}: {v}" for k, v in r.errors.items()) or "0"
        lines.append(
            f"| {r.scenario} | {r.requests} | {r.throughput_per_s} | {r.p50_ms} | {r.p99_ms} | {r.tokens} | {errors} | "
            f"{r.unexpected} | {r.lost} |"
        )
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text("\n".join(lines) + "\n")
    print(f"wrote {DOC.relative_to(ROOT)}")
    failed = any(c[1] == "FAILED" for cases in suites.values() for c in cases)
    return 1 if failed or any(r.lost or r.unexpected for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
