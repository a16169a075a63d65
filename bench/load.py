"""Load through the local HTTP token endpoint and the emulator: N token requests at
concurrency C, a third-party stand-in adding latency, optionally failing a share of calls.
Bounded in count and time; loopback only. Reports throughput, p50/p99, errors, lost.

    python -m bench.load --requests 10000 --concurrency 32 --latency-ms 20
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import percentile
from claimflow_local.stack.deployment import LocalDeployment
from claimflow_local.stack.token_endpoint import TokenRequestEndpoint

ROOT = Path(__file__).resolve().parents[1]
REQUEST = (ROOT / "events" / "issuer.user-token.json").read_bytes()


@dataclass
class LoadResult:
    scenario: str
    requests: int
    concurrency: int
    seconds: float
    throughput_per_s: float
    p50_ms: float
    p99_ms: float
    tokens: int
    errors: dict[str, int] = field(default_factory=dict)
    unexpected: int = 0
    lost: int = 0
    warmup_bursts: int = 0


def _register(stack: LocalDeployment, policy: str) -> None:
    """Both seed workflows under one policy, through UpdateFunctionConfiguration."""
    lam = stack.lambda_client()
    variables = lam.get_function_configuration(FunctionName="IssuerFunction")["Environment"]["Variables"]
    entries = [
        {"id": wid, "trigger": "user:tokens_generation", "function": fn, "failure_policy": policy, "timeout_ms": 2000}
        for wid, fn in (
            ("addThirdPartyDataToAccessToken", "AddThirdPartyDataToAccessTokenFunction"),
            ("addThirdPartyDataUsingEnvs", "AddThirdPartyDataUsingEnvsFunction"),
        )
    ]
    lam.update_function_configuration(
        FunctionName="IssuerFunction", Environment={"Variables": {**variables, "CLAIMFLOW_WORKFLOWS": json.dumps(entries)}}
    )


def _run(
    url: str, *, requests: int, concurrency: int, max_seconds: float
) -> tuple[list[tuple[float, int, dict[str, Any]]], float, int]:
    host, port = url.split("//")[1].split("/")[0].split(":")
    local = threading.local()
    deadline = time.monotonic() + max_seconds
    sent = [0]
    lock = threading.Lock()

    def one(_: int) -> tuple[float, int, dict[str, Any]] | None:
        if time.monotonic() > deadline:
            return None
        with lock:
            sent[0] += 1
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(host, int(port), timeout=30)
        started = time.perf_counter()
        try:
            local.conn.request("POST", "/token", body=REQUEST, headers={"Content-Type": "application/json"})
            response = local.conn.getresponse()
            body = json.loads(response.read())
            return (time.perf_counter() - started) * 1000, response.status, body
        except (OSError, http.client.HTTPException, ValueError) as error:
            local.conn.close()
            del local.conn
            return (time.perf_counter() - started) * 1000, 0, {"error": f"transport: {type(error).__name__}"}

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        answers = [a for a in pool.map(one, range(requests)) if a is not None]
    return answers, time.perf_counter() - started, sent[0]


def scenario(
    stack: LocalDeployment,
    endpoint: TokenRequestEndpoint,
    *,
    name: str,
    policy: str,
    failure_rate: float,
    requests: int,
    concurrency: int,
    max_seconds: float,
) -> LoadResult:
    assert stack.third_party is not None
    _register(stack, policy)
    stack.third_party.configure(failure_rate=0.0)
    # Warm until a burst is clean: on 2 cores, 3 x concurrency sandboxes doing their first
    # (heaviest) invocation at once overload the machine; that is start-up, not steady state.
    warmups = 0
    while warmups < 6:
        warmups += 1
        burst, _, _ = _run(endpoint.url, requests=concurrency * 4, concurrency=concurrency, max_seconds=60)
        if all("access_token" in a[2] for a in burst):
            break
    stack.third_party.configure(failure_rate=failure_rate)
    answers, seconds, sent = _run(endpoint.url, requests=requests, concurrency=concurrency, max_seconds=max_seconds)
    stack.third_party.configure(failure_rate=0.0)
    latencies = [a[0] for a in answers]
    errors = Counter(str(a[2].get("error")) for a in answers if "error" in a[2])
    # Expected: with injected failures, a stop policy answers server_error naming a workflow.
    expected = sum(
        1
        for a in answers
        if a[2].get("error") == "server_error"
        and failure_rate > 0
        and policy == "stop"
        and "failed (failure policy stop)" in a[2].get("error_description", "")
    )
    return LoadResult(
        scenario=name,
        requests=len(answers),
        concurrency=concurrency,
        seconds=round(seconds, 2),
        throughput_per_s=round(len(answers) / seconds, 1),
        p50_ms=round(statistics.median(latencies), 1),
        p99_ms=round(percentile(latencies, 99), 1),
        tokens=sum(1 for a in answers if "access_token" in a[2]),
        errors=dict(errors),
        unexpected=sum(errors.values()) - expected,
        lost=sent - len(answers),
        warmup_bursts=warmups,
    )


def run(*, requests: int, concurrency: int, latency_ms: float, failure_rate: float, max_seconds: float) -> list[LoadResult]:
    results = []
    with (
        open(os.devnull, "w") as sink,
        LocalDeployment(log=sink, env_vars={"Parameters": {"POWERTOOLS_LOG_LEVEL": "ERROR"}}) as stack,
    ):
        assert stack.third_party is not None
        stack.third_party.configure(delay_ms=latency_ms)
        endpoint = TokenRequestEndpoint(stack.issuer_client(max_pool=concurrency * 2))
        endpoint.start()
        assert stack.emulator is not None
        print(f"… warming {concurrency} sandboxes per function", file=sys.stderr, flush=True)
        stack.emulator.warm(
            "IssuerFunction", "AddThirdPartyDataToAccessTokenFunction", "AddThirdPartyDataUsingEnvsFunction", count=concurrency
        )
        try:
            for name, policy, rate in (
                ("no faults", "stop", 0.0),
                (f"{failure_rate:.0%} third-party failures", "stop", failure_rate),
                (f"{failure_rate:.0%} third-party failures", "continue", failure_rate),
            ):
                label = f"{name} ({policy})"
                print(f"… {label}", file=sys.stderr, flush=True)
                results.append(
                    scenario(
                        stack,
                        endpoint,
                        name=label,
                        policy=policy,
                        failure_rate=rate,
                        requests=requests,
                        concurrency=concurrency,
                        max_seconds=max_seconds,
                    )
                )
        finally:
            endpoint.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added by the third-party stand-in")
    parser.add_argument("--failure-rate", type=float, default=0.01)
    parser.add_argument("--max-seconds", type=float, default=240.0, help="per scenario")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "load-results.json")
    args = parser.parse_args(argv)
    results = run(
        requests=args.requests,
        concurrency=args.concurrency,
        latency_ms=args.latency_ms,
        failure_rate=args.failure_rate,
        max_seconds=args.max_seconds,
    )
    args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    columns = ("requests", "per s", "p50 ms", "p99 ms", "tokens", "lost", "unexpected")
    print("\n" + f"{'scenario':40} " + " ".join(f"{c:>10}" for c in columns) + "  errors")
    for r in results:
        values = (r.requests, r.throughput_per_s, r.p50_ms, r.p99_ms, r.tokens, r.lost, r.unexpected)
        print(f"{r.scenario:40} " + " ".join(f"{v!s:>10}" for v in values) + f"  {r.errors}")
    return 0 if all(r.lost == 0 and r.unexpected == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
