"""The latency each claims hook adds, locally: the p50 of a call at the issuer's Function URL as
its stack sends it (signed just before, by ``claimflow_local.hook_callers``; the signing is not
timed), the issuer running in the emulator on the built artifacts, against a baseline in the
same run: a call at the same URL that runs no hook (``POST /hooks/<unknown>``, a 404: the
Function URL, the emulator and the handler's routing). Calls are interleaved, one of each per
round in a rotating order, over one keep-alive session.

Measured with every workflow disabled, so the figure is the hook itself (the secret from SSM,
cached; the stack's authentication: Entra's RS256 JWT against its cached JWKS, Standard
Webhooks' HMAC, a constant-time compare; parsing, the seed event, the reply in the stack's
shape), and again with the seed workflows enabled, for scale (two workflows, each a real
fetch to the third-party stand-in).
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
Result = tuple[dict[str, Any], dict[str, dict[str, Any]]]


def _events(settings: dict[str, Any]) -> dict[str, Callable[[], dict[str, Any]]]:
    """Per rostered route, a maker of its call signed now (the generic shape carries a new correlation id each)."""
    from claimflow.issuer.hooks.roster import HTTP_HOOKS
    from claimflow_local.hook_callers import signed_event

    makers: dict[str, Callable[[], dict[str, Any]]] = {}
    for route, spec in HTTP_HOOKS.items():
        if spec.sample is not None:
            event = json.loads((ROOT / spec.sample).read_text())
            makers[route] = lambda event=event: signed_event(event, settings)
        else:
            request = json.loads((ROOT / "events" / "issuer.user-token.json").read_text())

            def generic(request: dict[str, Any] = request, route: str = route) -> dict[str, Any]:
                body = json.dumps({**request, "correlation_id": f"bench-{uuid.uuid4().hex}"})
                call = {"rawPath": f"/hooks/{route}", "headers": {"content-type": "application/json"}, "body": body}
                return signed_event(call, settings)

            makers[route] = generic
    return makers


def _p50s(stack: Any, rounds: int) -> tuple[dict[str, float], float]:
    """(p50 ms per route, p50 ms of the baseline), interleaved rounds."""
    import requests

    makers = _events(stack.settings)
    session = requests.Session()
    samples: dict[str, list[float]] = {route: [] for route in makers}
    baseline: list[float] = []

    def timed(event: dict[str, Any], expect: int) -> float:
        headers = {k: v for k, v in event.get("headers", {}).items() if k.lower() not in ("host", "content-length")}
        started = time.perf_counter()
        answer = session.post(f"{stack.hooks_url}{event['rawPath']}", data=event["body"].encode(), headers=headers, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code == expect, (event["rawPath"], answer.status_code, answer.text[:300])
        return elapsed

    unknown = {"rawPath": "/hooks/bench-baseline", "headers": {"content-type": "application/json"}, "body": "{}"}
    order = [*makers, None]  # None: the baseline
    for round_ in range(rounds + 5):  # the first five warm the sandbox, the connection and the caches
        turn = order[round_ % len(order) :] + order[: round_ % len(order)]  # each call first as often as the others
        calls = [(route, makers[route]() if route else unknown) for route in turn]  # signed before the clock starts
        for route, event in calls:
            elapsed = timed(event, 200 if route else 404)
            if round_ >= 5:
                (samples[route] if route else baseline).append(elapsed)
    return {route: statistics.median(values) for route, values in samples.items()}, statistics.median(baseline)


def claims_hooks(rounds: int = 150) -> Result:
    from claimflow_local.stack.deployment import LocalDeployment
    from claimflow_local.template import SamTemplate

    every_workflow = ",".join(entry.id for entry in SamTemplate.load(ROOT / "template.yaml").registry())
    disabled = {"DisabledWorkflows": every_workflow}
    with open(os.devnull, "w") as sink, LocalDeployment(log=sink, parameter_overrides=disabled) as bare:
        alone, baseline = _p50s(bare, rounds)
    with open(os.devnull, "w") as sink, LocalDeployment(log=sink) as seeded:
        with_seed, seed_baseline = _p50s(seeded, max(20, rounds // 3))
    numbers: dict[str, Any] = {"hook_baseline_p50_ms": round(baseline, 2)}
    details: dict[str, dict[str, Any]] = {
        "hook_baseline_p50_ms": {
            "what": f"POST /hooks/<unknown> at the issuer's Function URL (a 404: no hook runs), p50 of {rounds}, local emulator",
        }
    }
    for route, p50 in alone.items():
        key = f"hook_added_p50_ms_{route}"
        numbers[key] = round(p50 - baseline, 2)
        details[key] = {
            "what": f"what the {route} hook adds to a call, no workflow enabled: its p50 ({p50:.2f} ms, {rounds} signed calls) "
            "less the baseline's, interleaved",
            "baseline": "POST /hooks/<unknown> (404) at the same URL, same run",
            "p50_ms": round(p50, 2),
            "ratio_to_baseline": round(p50 / baseline, 3),
            "with_seed_workflows_p50_ms": round(with_seed[route], 2),
            "with_seed_workflows_baseline_p50_ms": round(seed_baseline, 2),
        }
    return numbers, details
