"""The cached parameter store and env variables: TTL, stale-if-error, precedence, secrecy."""

from __future__ import annotations

import pytest

from claimflow import EnvironmentVariable, ParameterStoreError
from claimflow.bindings.env import EnvironmentVariables
from claimflow.config import SsmPaths
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
