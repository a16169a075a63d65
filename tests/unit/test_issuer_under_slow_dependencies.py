"""The issuer when its dependencies are slow or hostile, on in-memory fakes: a key store that
hangs after the cache expired, workflows that hang for good, a continue workflow whose claims
would make the token too large."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from claimflow.issuer.app import handle
from tests.support import record_figure
from tests.unit.issuing import PATHS, issuer_with, keyed_store, patching, user_request


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Hung things wait on this; the test's end releases them."""
    gate = threading.Event()
    yield gate
    gate.set()


def test_a_key_store_that_hangs_after_the_cache_expired_still_issues_within_the_budget(release: threading.Event) -> None:
    now = [0.0]
    store = keyed_store()
    store.max_age, store._clock = 300, lambda: now[0]  # the issuer's key-set TTL, on a clock the test moves
    issuer = issuer_with([("a", patching("a", {"x": 1}), "stop")], store=store, issuance_budget_ms=3000)
    assert "access_token" in handle(issuer, user_request())  # warm
    store.gate = release  # SSM accepts and never answers
    now[0] += 301  # the cached key set expired
    loads = store.loads
    durations = []
    for _ in range(20):
        started = time.perf_counter()
        answer = handle(issuer, user_request())
        durations.append(time.perf_counter() - started)
        assert "access_token" in answer, answer
    assert max(durations) < 1.0, f"slowest token took {max(durations):.2f} s"
    assert store.loads == loads + 1, "one refresh in flight, not one per token"
    record_figure("slow_ssm_warm_cache_unit", {"tokens": 20, "max_s": round(max(durations), 3)})


def hung(release: threading.Event) -> Any:
    def handler(payload: dict[str, Any], context: Any) -> Any:
        release.wait()

    return handler


def test_hung_continue_workflows_never_starve_a_healthy_stop_workflow(release: threading.Event) -> None:
    issuer = issuer_with(
        [
            ("hung1", hung(release), "continue"),
            ("hung2", hung(release), "continue"),
            ("hung3", hung(release), "continue"),
            ("healthy", patching("healthy", {"ok": True}), "stop"),
        ],
        timeout_ms=100,
    )
    failures = 0
    for _ in range(40):
        answer = handle(issuer, user_request())
        if "access_token" not in answer:
            failures += 1
            continue
        assert jwt.decode(answer["access_token"], options={"verify_signature": False})["ok"] is True
        assert [run["outcome"] for run in answer["workflows"]] == ["failed", "failed", "failed", "ok"]
    assert failures == 0
    record_figure("hung_continue_workflows", {"requests": 40, "healthy_failures": failures})


def test_a_continue_workflow_whose_claims_would_make_the_token_too_large_is_that_workflows_failure() -> None:
    big = {f"claim{i}": "x" * 1000 for i in range(12)}
    issuer = issuer_with([("small", patching("small", {"plan": "pro"}), "stop"), ("big", patching("big", big), "continue")])
    answer = handle(issuer, user_request())
    assert "access_token" in answer, answer
    claims = jwt.decode(answer["access_token"], options={"verify_signature": False})
    assert claims["plan"] == "pro" and "claim0" not in claims
    [big_run] = [run for run in answer["workflows"] if run["id"] == "big"]
    assert big_run["outcome"] == "failed" and "over the 8192-byte limit" in big_run["error"]
    record_figure("continue_oversize", {"token_issued": True, "access_token_bytes": len(answer["access_token"])})


def test_a_stop_workflow_whose_claims_make_the_token_too_large_still_fails_the_issuance() -> None:
    big = {f"claim{i}": "x" * 1000 for i in range(12)}
    answer = handle(
        issuer_with([("big", patching("big", big), "stop"), ("c", patching("c", {"a": 1}), "continue")]), user_request()
    )
    assert answer["error"] == "server_error" and "8192" in answer["error_description"]


def test_the_issuer_tells_workflows_which_claims_it_mints_so_they_fail_at_once() -> None:
    seen: list[dict[str, Any]] = []

    def spy(payload: dict[str, Any], context: Any) -> Any:
        seen.append(payload)
        return patching("spy", {})(payload, context)

    issuer_with([("spy", spy, "stop")]).issue(user_request())
    reserved = seen[0]["reserved"]["claims"]
    # What this request mints beyond the names every workflow already knows are reserved
    # (iss, sub, nonce ...: the table in the layer): org_code, because it names an organization.
    assert reserved["access_token"] == ["org_code"]
    assert {"iss", "sub"} & set(reserved["access_token"]) == set()


def test_the_key_set_is_read_within_the_budget_when_the_store_is_cold_and_hangs(release: threading.Event) -> None:
    store = keyed_store()
    store.clear_cache()
    store.gate = release
    issuer = issuer_with([], store=store, issuance_budget_ms=300)
    started = time.perf_counter()
    answer = handle(issuer, user_request())
    assert answer["error"] == "temporarily_unavailable"
    assert time.perf_counter() - started < 0.6
    assert PATHS.signing_keyset in answer["error_description"] or "parameter store" in answer["error_description"]
