"""Timing helpers: interleaved rounds, medians, percentiles, fresh-interpreter timings."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence


def rate(function: Callable[[], object], *, seconds: float = 0.5) -> float:
    """Calls per second over about ``seconds``."""
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        function()
        count += 1
    return count / elapsed


def interleaved_ratio(
    subject: Callable[[], object], baseline: Callable[[], object], *, rounds: int = 7, seconds: float = 0.4
) -> tuple[float, float, float]:
    """(median subject rate, median baseline rate, median of per-round ratios): alternating
    rounds so drift in machine speed hits both sides alike."""
    subject_rates, baseline_rates, ratios = [], [], []
    for _ in range(rounds):
        s, b = rate(subject, seconds=seconds), rate(baseline, seconds=seconds)
        subject_rates.append(s)
        baseline_rates.append(b)
        ratios.append(s / b)
    return statistics.median(subject_rates), statistics.median(baseline_rates), statistics.median(ratios)


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def fresh_interpreter_ms(code: str, *, runs: int = 9, env: dict[str, str] | None = None) -> float:
    """Median wall time of ``python -c code`` in a new interpreter, minus nothing (see callers)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, **(env or {})}, capture_output=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)
