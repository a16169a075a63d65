"""The issuer's metrics, as CloudWatch embedded-metric-format lines (Powertools)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from claimflow.issuer.app import _record_metrics, handle
from tests.unit.issuing import failing, issuer_with, patching, reply, user_request


def emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]


def names(documents: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                found.setdefault(metric["Name"], []).append({k: v for k, v in document.items() if k != "_aws"})
    return found


@pytest.fixture(autouse=True)
def _metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "claimflow")


def test_an_issued_token_counts_and_each_workflow_reports_its_duration_and_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    answer = handle(issuer_with([("a", patching("a", {"x": 1}), "stop"), ("b", failing("b"), "continue")]), user_request())
    capsys.readouterr()
    _record_metrics(answer)
    metrics = names(emitted(capsys))
    assert metrics["TokensIssued"][0]["TokensIssued"] == [1.0]
    durations = {(m["workflow"], m["outcome"]) for m in metrics["WorkflowDuration"]}
    assert durations == {("a", "ok"), ("b", "failed")}


def test_a_denial_is_counted_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    answer = handle(issuer_with([("g", lambda p, c: reply("g", "denied", reason="no"), "stop")]), user_request())
    capsys.readouterr()
    _record_metrics(answer)
    metrics = names(emitted(capsys))
    assert "AccessDenied" in metrics and "TokensIssued" not in metrics
