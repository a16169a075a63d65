"""The cached parameter store and env variables: TTL, stale-if-error, precedence, secrecy."""

from __future__ import annotations

import threading
import time

import pytest

from claimflow import EnvironmentVariable, ParameterStoreError
from claimflow.bindings.env import EnvironmentVariables
from claimflow.environment import SsmPaths
from claimflow.infra.parameters import InMemoryParameterStore
from claimflow.infra.secrets import SecretRegistry


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def env_over(store: InMemoryParameterStore) -> EnvironmentVariables:
    return EnvironmentVariables(store, SsmPaths(stage="s"), SecretRegistry())


def test_loads_once_per_ttl_however_many_reads() -> None:
    clock = Clock()
    store = InMemoryParameterStore({"/claimflow/s/env/A": "1"}, max_age=60, clock=clock)
    env = env_over(store)
    for _ in range(1000):
        assert env.get("wf", "A") == EnvironmentVariable("1", False)
    assert store.loads == 2  # the workflow's path and the stage path, once each
    clock.now += 61
    env.get("wf", "A")
    assert store.loads == 4


def test_the_workflows_own_variable_wins_over_the_stage_wide_one() -> None:
    store = InMemoryParameterStore({"/claimflow/s/env/REGION": "us", "/claimflow/s/workflows/wf/env/REGION": "eu"})
    assert env_over(store).get("wf", "REGION") == EnvironmentVariable("eu", False)
    assert env_over(store).get("other", "REGION") == EnvironmentVariable("us", False)
    assert env_over(store).get("wf", "MISSING") is None


def test_a_cached_value_is_served_when_the_store_fails_to_refresh() -> None:
    clock = Clock()
    store = InMemoryParameterStore({"/claimflow/s/env/A": "1"}, max_age=10, clock=clock)
    env = env_over(store)
    assert env.get("wf", "A") is not None
    store.unreachable = True
    clock.now += 11
    assert env.get("wf", "A") == EnvironmentVariable("1", False)


def test_without_a_cached_value_an_unreachable_store_is_an_error() -> None:
    store = InMemoryParameterStore({})
    store.unreachable = True
    with pytest.raises(ParameterStoreError, match="unreachable"):
        env_over(store).get("wf", "A")


def test_secret_values_are_hidden_from_repr_and_str() -> None:
    variable = EnvironmentVariable("hunter2-secret", True)
    assert "hunter2" not in repr(variable)
    assert "hunter2" not in str(variable)
    assert "hunter2" not in repr(InMemoryParameterStore({"/p": ("hunter2-secret", True)}).get("/p"))
    assert "plain-value" in repr(EnvironmentVariable("plain-value", False))


def test_reading_a_secret_registers_it_for_redaction() -> None:
    registry = SecretRegistry()
    env = EnvironmentVariables(
        InMemoryParameterStore({"/claimflow/s/env/K": ("abcd-secret", True)}), SsmPaths(stage="s"), registry
    )
    env.get("wf", "K")
    assert registry.redact("token=abcd-secret;") == "token=••••;"


# --- stale-while-revalidate: a slow or failing store behind a warm cache ---------------------


def warm_store(**options: object) -> tuple[InMemoryParameterStore, Clock]:
    clock = Clock()
    store = InMemoryParameterStore({"/p": "v1"}, max_age=10, clock=clock, **options)  # type: ignore[arg-type]
    assert store.get("/p") is not None
    clock.now += 11  # expired
    return store, clock


def test_a_warm_cache_serves_the_last_value_within_stale_wait_when_the_store_hangs() -> None:
    store, _ = warm_store(stale_wait=0.1)
    store.gate = threading.Event()  # the store accepts and never answers
    try:
        started = time.perf_counter()
        parameter = store.get("/p", deadline=time.monotonic() + 3.0)
        assert parameter is not None and parameter.value == "v1"
        assert time.perf_counter() - started < 1.5, "served after the stale wait, long before the 3 s deadline"
    finally:
        store.gate.set()


def test_while_one_refresh_hangs_every_other_reader_is_served_the_cached_value_at_once() -> None:
    store, _ = warm_store(stale_wait=1.0)
    store.gate = threading.Event()
    try:
        store.get("/p")  # starts the refresh, waits its 1 s, gets the stale value
        started = time.perf_counter()
        values = [store.get("/p") for _ in range(100)]
        assert {v.value for v in values if v} == {"v1"}
        assert time.perf_counter() - started < 1.0, "nobody waits on the refresh already in flight (one would wait 1 s)"
        assert store.loads == 2  # the first load, and the one refresh still in flight
    finally:
        store.gate.set()


def test_the_back_off_counts_from_the_end_of_the_failed_refresh() -> None:
    store, clock = warm_store(stale_wait=5.0, failure_backoff=5.0)
    store.unreachable = True
    store.delay = 0.05

    def slow_failure() -> None:
        clock.now += 3  # the failed refresh takes 3 s of the store's clock
        time.sleep(0.01)

    original = store._check_reachable
    store._check_reachable = lambda: (slow_failure(), original())[1]  # type: ignore[method-assign]
    assert store.get("/p").value == "v1"  # type: ignore[union-attr]
    loads = store.loads
    clock.now += 4.9  # 4.9 s after the refresh ended (7.9 s after it began): still backing off
    assert store.get("/p").value == "v1"  # type: ignore[union-attr]
    assert store.loads == loads
    clock.now += 0.2  # 5.1 s after it ended: the next refresh may go
    store.unreachable = False
    store._check_reachable = original  # type: ignore[method-assign]
    store.parameters["/p"] = type(store.parameters["/p"])("/p", "v2")
    assert store.get("/p").value == "v2"  # type: ignore[union-attr]


def test_a_cold_read_waits_for_the_one_load_in_flight_until_its_deadline_and_says_so() -> None:
    store = InMemoryParameterStore({"/p": "v"})
    store.gate = threading.Event()
    try:
        started = time.perf_counter()
        with pytest.raises(ParameterStoreError, match=r"did not answer for /p within \d+ ms"):
            store.get("/p", deadline=time.monotonic() + 0.2)
        assert 0.15 < time.perf_counter() - started < 2.0  # its deadline (0.2 s), not the load's end (never)
        results: list[object] = []
        readers = [
            threading.Thread(target=lambda: results.append(store.get("/p", deadline=time.monotonic() + 5))) for _ in range(8)
        ]
        for reader in readers:
            reader.start()
        time.sleep(0.05)
        store.gate.set()
        for reader in readers:
            reader.join()
        assert store.loads == 1, "eight cold readers share the one load in flight"
        assert [r.value for r in results] == ["v"] * 8  # type: ignore[attr-defined]
    finally:
        store.gate.set()


def test_no_lock_is_held_while_a_refresh_waits_on_the_store() -> None:
    store, _ = warm_store(stale_wait=0.05)
    store.parameters["/q"] = type(store.parameters["/p"])("/q", "q1")
    store.gate = threading.Event()
    try:
        store.get("/p")  # a refresh of /p hangs in the store
        store.gate.set()  # /q's cold load must not queue behind it
        assert store.get("/q", deadline=time.monotonic() + 1).value == "q1"  # type: ignore[union-attr]
    finally:
        store.gate.set()


def test_the_cache_holds_at_most_max_entries() -> None:
    store = InMemoryParameterStore({}, max_entries=8)
    for i in range(100):
        store.get_by_path(f"/clients/random-{i}")
    assert len(store._cache) == 8
