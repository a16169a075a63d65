"""Stale serving has a bound: while SSM fails, a cached secret (a hook secret, an env secret,
the key set) is served for at most MaxStaleSeconds past its TTL, then reads fail closed
(temporarily_unavailable: a token request's error, a hook's 503); a key set is never signed
with past the rotation's grace window. Plain values are still served stale. Each stale serve
is counted (EMF ``ServingStale``)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from claimflow.bindings.env import EnvironmentVariables
from claimflow.environment import SsmPaths
from claimflow.errors import ParameterStoreError
from claimflow.infra.parameters import InMemoryParameterStore
from claimflow.infra.secrets import SecretRegistry
from claimflow.infra.ssm import SsmParameterStore
from claimflow.issuer import InProcessWorkflowInvoker, IssuerConfig, TokenIssuer, WorkflowRegistry
from claimflow.issuer.app import handle
from claimflow.issuer.hooks.endpoint import HookEndpoint
from claimflow.issuer.hooks.hydra import HydraTokenHook
from claimflow.issuer.hooks.replay import InMemoryReplayStore
from claimflow.keys import KeyProvider
from claimflow.keys.manager import DEFAULT_GRACE_SECONDS, KeyManager
from tests.support import sample
from tests.unit.issuing import issuer_with, patching
from tests.unit.test_claims_hooks import HYDRA_CALL, Counting, call

PATHS = SsmPaths(stage="s")
HOOK_SECRET = PATHS.hook_secret("generic")
DAY = 86400


class Clock:
    """The store's clock, moved by hand (it starts at the wall clock's time, so key times agree)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def store_with(parameters: dict[str, str | tuple[str, bool]], clock: Clock, **options: Any) -> InMemoryParameterStore:
    return InMemoryParameterStore(parameters, clock=clock, **{"max_age": 60, **options})


def revoke(store: InMemoryParameterStore, name: str, value: str) -> None:
    """SSM holds a new value the cache has not read (a rotation while SSM is unreachable)."""
    store.parameters[name] = type(store.parameters[name])(name, value, store.parameters[name].is_secret)


# --- secrets: served within the bound, refused past it ----------------------------------------


def test_a_rotated_hook_secret_is_not_accepted_14_days_into_an_ssm_outage() -> None:
    clock = Clock()
    store = store_with({HOOK_SECRET: ("old-hook-secret", True)}, clock)
    assert store.get(HOOK_SECRET).value == "old-hook-secret"  # type: ignore[union-attr]
    revoke(store, HOOK_SECRET, "new-hook-secret")
    store.unreachable = True
    clock.now += 14 * DAY
    with pytest.raises(ParameterStoreError) as refused:
        store.get(HOOK_SECRET)
    assert refused.value.error_code == "temporarily_unavailable"
    assert "MaxStaleSeconds" in str(refused.value) and "old-hook-secret" not in str(refused.value)


def test_a_secret_is_served_stale_up_to_max_stale_seconds_and_refused_just_past_it() -> None:
    clock = Clock()
    store = store_with({HOOK_SECRET: ("s3cret-value", True)}, clock, max_age=60, failure_backoff=0)
    store.get(HOOK_SECRET)
    store.unreachable = True
    clock.now += 60 + 300  # exactly at the edge: stale for 300 s
    assert store.get(HOOK_SECRET).value == "s3cret-value"  # type: ignore[union-attr]
    clock.now += 0.001
    with pytest.raises(ParameterStoreError, match="stale for 300 s, longer than CLAIMFLOW_MAX_STALE_SECONDS"):
        store.get(HOOK_SECRET)


def test_the_bound_holds_while_backing_off_and_while_another_refresh_is_in_flight() -> None:
    clock = Clock()
    store = store_with({HOOK_SECRET: ("s3cret-value", True)}, clock, max_age=60, failure_backoff=60)
    store.get(HOOK_SECRET)
    store.unreachable = True
    clock.now += 60 + 290
    assert store.get(HOOK_SECRET) is not None  # the refresh fails 290 s stale: served, then 60 s of back-off
    clock.now += 20  # still backing off, now past the bound
    with pytest.raises(ParameterStoreError, match="back-off .*MaxStaleSeconds"):
        store.get(HOOK_SECRET)
    clock.now += 60
    store.unreachable, store.gate = False, threading.Event()  # SSM accepts the next read and never answers
    try:
        with pytest.raises(ParameterStoreError, match="did not answer"):
            store.get(HOOK_SECRET, deadline=time.monotonic() + 0.1)  # starts the refresh; nothing to serve
        with pytest.raises(ParameterStoreError, match="did not answer"):
            store.get(HOOK_SECRET, deadline=time.monotonic() + 0.1)  # it is in flight: still nothing to serve
    finally:
        store.gate.set()


def test_a_cold_read_with_ssm_down_is_temporarily_unavailable() -> None:
    store = store_with({HOOK_SECRET: ("s3cret-value", True)}, Clock())
    store.unreachable = True
    with pytest.raises(ParameterStoreError) as refused:
        store.get(HOOK_SECRET)
    assert refused.value.error_code == "temporarily_unavailable"


def test_once_ssm_answers_again_the_rotated_secret_is_read() -> None:
    clock = Clock()
    store = store_with({HOOK_SECRET: ("old-hook-secret", True)}, clock, failure_backoff=5)
    store.get(HOOK_SECRET)
    revoke(store, HOOK_SECRET, "new-hook-secret")
    store.unreachable = True
    clock.now += 1000
    with pytest.raises(ParameterStoreError):
        store.get(HOOK_SECRET)
    store.unreachable = False
    clock.now += 6  # the back-off after the failed read has passed
    assert store.get(HOOK_SECRET).value == "new-hook-secret"  # type: ignore[union-attr]


def test_a_workflows_env_secret_fails_closed_and_its_plain_variables_keep_being_served() -> None:
    clock = Clock()
    store = store_with(
        {f"{PATHS.shared_env}/API_KEY": ("k-123456789", True), f"{PATHS.workflow_env('plain')}/REGION": "eu"}, clock
    )
    env = EnvironmentVariables(store, PATHS, SecretRegistry())
    assert env.get("wf", "API_KEY") is not None and env.get("plain", "REGION") is not None
    store.unreachable = True
    clock.now += 60 + 301
    with pytest.raises(ParameterStoreError):
        env.get("wf", "API_KEY")
    region = env.get("plain", "REGION")  # a path holding no secret: still served, stale
    assert region is not None and region.value == "eu"


# --- what is reported --------------------------------------------------------------------------


def test_each_stale_serve_while_the_store_fails_is_reported_and_a_healthy_store_reports_none() -> None:
    clock = Clock()
    reported: list[tuple[str, float]] = []
    store = store_with({"/p": "v"}, clock, on_stale=lambda name, stale: reported.append((name, stale)), failure_backoff=30)
    store.get("/p")
    clock.now += 61
    store.get("/p")  # a healthy refresh
    assert reported == []
    store.unreachable = True
    clock.now += 61
    store.get("/p")  # the refresh fails: stale by 1 s
    clock.now += 10
    store.get("/p")  # backing off: stale by 11 s
    assert reported == [("/p", pytest.approx(1.0)), ("/p", pytest.approx(11.0))]


class FailingSsm:
    """An SSM client that answered once, then fails (boto3's shape)."""

    def __init__(self) -> None:
        self.down = False

    def get_parameter(self, **arguments: Any) -> dict[str, Any]:
        if self.down:
            raise ConnectionError("SSM unreachable")
        return {"Parameter": {"Name": arguments["Name"], "Value": "v", "Type": "String"}}


def test_the_ssm_store_counts_each_stale_serve_as_an_emf_serving_stale_metric(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    clock = Clock()
    client = FailingSsm()
    store = SsmParameterStore(client=client, max_age=60, clock=clock)
    store.get("/claimflow/s/env/A")
    client.down = True
    clock.now += 61
    assert store.get("/claimflow/s/env/A") is not None
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"ServingStale"' in line]
    assert len(lines) == 1
    metric = lines[0]
    assert metric["_aws"]["CloudWatchMetrics"][0] == {
        "Namespace": "claimflow",
        "Dimensions": [["service"]],
        "Metrics": [{"Name": "ServingStale", "Unit": "Count"}],
    }
    assert (metric["service"], metric["ServingStale"], metric["parameter"]) == ("parameter-cache", [1.0], "/claimflow/s/env/A")


# --- the issuer: tokens while within the bound, temporarily_unavailable past it ---------------


def issuer(store: InMemoryParameterStore) -> TokenIssuer:
    """An issuer whose key provider keeps the rotation's default timings (tokens of an hour)."""
    return TokenIssuer(
        config=IssuerConfig(issuer_url="https://issuer.test"),
        registry=WorkflowRegistry([]),
        invoker=InProcessWorkflowInvoker({}),
        keys=KeyProvider(store, PATHS.signing_keyset),
    )


def keyed(clock: Clock, **options: Any) -> InMemoryParameterStore:
    store = InMemoryParameterStore(clock=clock, **{"max_age": 300, **options})
    KeyManager(store, PATHS).init(alg="ES256", now=int(clock.now))
    return store


def token_or_error(tokens: TokenIssuer) -> str:
    reply = handle(tokens, {**sample("issuer.user-token.json"), "scope": []})
    return "token" if "access_token" in reply else str(reply["error"])


def test_a_warm_issuer_signs_within_max_stale_seconds_of_an_outage_then_answers_temporarily_unavailable() -> None:
    clock = Clock()
    store = keyed(clock)  # MaxStaleSeconds: its default, 300
    tokens = issuer(store)
    assert token_or_error(tokens) == "token"  # warm
    store.unreachable = True
    clock.now += 300 + 300  # the TTL and MaxStaleSeconds
    assert token_or_error(tokens) == "token"
    clock.now += 1
    assert token_or_error(tokens) == "temporarily_unavailable"


def test_a_key_set_older_than_the_grace_window_is_not_signed_with_whatever_max_stale_allows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAIMFLOW_MAX_STALE_SECONDS", str(30 * DAY))  # what MaxStaleSeconds sets
    clock = Clock()
    store = keyed(clock)
    tokens = issuer(store)
    assert token_or_error(tokens) == "token"
    store.unreachable = True
    # A successor published now signs after the grace period; the old key's tokens expire 300 s before it leaves the JWKS.
    window = DEFAULT_GRACE_SECONDS + 300
    clock.now += window
    assert token_or_error(tokens) == "token"
    clock.now += 1
    assert token_or_error(tokens) == "temporarily_unavailable"


def test_with_a_successor_already_due_the_window_is_the_old_keys_margin_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMFLOW_MAX_STALE_SECONDS", str(30 * DAY))  # what MaxStaleSeconds sets
    clock = Clock()
    store = InMemoryParameterStore(clock=clock, max_age=60)
    manager = KeyManager(store, PATHS)
    manager.init(alg="ES256", now=int(clock.now) - 40 * DAY)
    manager.update("add", now=int(clock.now) - DAY)  # published a day ago: it may be promoted any moment
    tokens = issuer(store)
    assert token_or_error(tokens) == "token"
    store.unreachable = True
    clock.now += 300
    assert token_or_error(tokens) == "token"
    clock.now += 1
    assert token_or_error(tokens) == "temporarily_unavailable"


# --- the claims hook: the revoked secret, 14 days into an outage ----------------------------


def test_a_hook_call_with_a_revoked_api_key_is_503_not_accepted_14_days_into_an_ssm_outage() -> None:
    clock = Clock()
    secret = PATHS.hook_secret("hydra")
    store = InMemoryParameterStore({secret: ("revoked-api-key-1", True)}, clock=clock, max_age=300)
    workflow = Counting(patching("plan", {"plan": "pro"}))
    runner = issuer_with([("plan", workflow, "stop")]).workflows
    hooks = HookEndpoint(
        {"hydra": HydraTokenHook(domain="https://op.example")},
        runner,
        store,
        replays=InMemoryReplayStore(),
        enabled=("hydra",),
        budget_ms=3000,
        paths=PATHS,
        secrets=SecretRegistry(),
    )
    assert call(hooks, "hydra", HYDRA_CALL, {"X-API-Key": "revoked-api-key-1"})[0] == 200
    revoke(store, secret, "rotated-api-key-2")  # rotated while SSM cannot be read
    store.unreachable = True
    clock.now += 300 + 299  # within MaxStaleSeconds (300): the cached key still answers
    assert call(hooks, "hydra", HYDRA_CALL, {"X-API-Key": "revoked-api-key-1"})[0] == 200
    clock.now += 14 * DAY
    status, body = call(hooks, "hydra", HYDRA_CALL, {"X-API-Key": "revoked-api-key-1"})
    assert (status, body["error"]) == (503, "temporarily_unavailable")
    assert workflow.runs == 2
