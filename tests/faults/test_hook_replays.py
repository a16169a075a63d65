"""Claims-hook replays across containers, and the stores behind authentication failing, through
a whole local stack: the issuer's URL in the emulator (one sandbox process per container, each
with its own memory), moto as SSM and DynamoDB (the template's HookReplayTable). A signed call
is accepted once by all containers together, cold starts included; a store that cannot answer
refuses signed calls as 503 ``temporarily_unavailable`` within the hook's budget."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from claimflow.issuer.hooks.authentication import sign_body
from claimflow_local.stack.deployment import LocalDeployment
from tests.support import ROOT, record_figure, sample

#: The shared secrets of the hooks that have one (Entra's is a configuration and a caller key).
SECRETS = {
    name: hook["secret"]
    for name, hook in json.loads((ROOT / "local" / "settings.json").read_text())["hooks"].items()
    if "secret" in hook
}
HOOK_BUDGET_S = 5.0  # the generic hook's budget (GenericClaimsHook.budget_ms)
RACERS = 4


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalDeployment]:
    with open(os.devnull, "w") as sink, LocalDeployment(root=ROOT, log=sink) as running:
        yield running


def signed_call(correlation: str) -> tuple[bytes, dict[str, str]]:
    """A generic hook call as a caller signs it: now, once."""
    raw = json.dumps({**sample("issuer.user-token.json"), "correlation_id": correlation}).encode()
    return raw, {
        "X-Claimflow-Signature": sign_body(SECRETS["generic"], raw, now=int(time.time())),
        "Content-Type": "application/json",
    }


def post(stack: LocalDeployment, route: str, raw: bytes, headers: dict[str, str]) -> tuple[requests.Response, float]:
    started = time.perf_counter()
    answer = requests.post(f"{stack.hooks_url}/hooks/{route}", data=raw, headers=headers, timeout=30)
    return answer, time.perf_counter() - started


def cold_start(stack: LocalDeployment) -> None:
    """Retire the issuer's warm containers: the next call starts a new one, with empty memory."""
    assert stack.emulator is not None
    stack.emulator.pools["IssuerFunction"].close()


def test_a_signed_call_replayed_across_containers_and_cold_starts_is_accepted_once(stack: LocalDeployment) -> None:
    assert stack.emulator is not None
    pool = stack.emulator.pools["IssuerFunction"]
    raw, headers = signed_call(f"replay-{time.time_ns()}")
    cold_start(stack)
    before = pool.cold_starts
    start = threading.Barrier(RACERS)

    def race(_: int) -> int:
        start.wait()
        return post(stack, "generic", raw, headers)[0].status_code

    with ThreadPoolExecutor(RACERS) as racers:  # all busy at once: one container each
        raced = sorted(racers.map(race, range(RACERS)))
    containers = pool.cold_starts - before
    cold_start(stack)
    after_cold_start = post(stack, "generic", raw, headers)[0]
    assert (after_cold_start.status_code, after_cold_start.json()) == (401, {"error": "invalid_client"})
    assert raced == [200] + [401] * (RACERS - 1), raced
    assert containers >= 2, f"the race ran in {containers} container(s)"
    record_figure(
        "hook_replays_across_containers",
        {"sends": RACERS + 1, "containers": containers + 1, "accepted": raced.count(200), "refused": RACERS},
    )


def test_each_fresh_signature_is_accepted_once_by_a_warm_container(stack: LocalDeployment) -> None:
    """The shared store's cost on a warm container: one conditional put per signed call, against
    the same workflows behind an API-key hook (Hydra), which never asks the store."""
    hydra = json.loads(sample("hooks.hydra-token-hook.json")["body"])
    api_key = {"X-API-Key": SECRETS["hydra"], "Content-Type": "application/json"}
    post(stack, "generic", *signed_call("warm-up"))
    post(stack, "hydra", json.dumps(hydra).encode(), api_key)
    accepted, replayed, baseline = [], [], []
    for n in range(11):
        raw, headers = signed_call(f"fresh-{n}-{time.time_ns()}")
        answer, elapsed = post(stack, "generic", raw, headers)
        assert answer.status_code == 200, answer.text
        accepted.append(elapsed * 1000)
        again, elapsed = post(stack, "generic", raw, headers)
        assert (again.status_code, again.json()) == (401, {"error": "invalid_client"})
        replayed.append(elapsed * 1000)
        answer, elapsed = post(stack, "hydra", json.dumps(hydra).encode(), api_key)
        assert answer.status_code == 200
        baseline.append(elapsed * 1000)
    median = {name: sorted(values)[5] for name, values in (("signed", accepted), ("replay", replayed), ("api_key", baseline))}
    record_figure(
        "hook_replays_warm_latency",
        {
            "signed_p50_ms": round(median["signed"], 1),
            "replay_refused_p50_ms": round(median["replay"], 1),
            "api_key_hook_p50_ms": round(median["api_key"], 1),
            "signed_over_api_key": round(median["signed"] / median["api_key"], 2),
        },
    )


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)  # accepts, never answers
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


@pytest.mark.parametrize("fault", ["down", "hangs"])
def test_a_replay_store_that_cannot_answer_refuses_signed_calls_with_503(
    stack: LocalDeployment, silent_endpoint: str, fault: str
) -> None:
    assert stack.emulator is not None and stack.ssm is not None
    url = "http://127.0.0.1:9" if fault == "down" else silent_endpoint
    stack.emulator.override_environment("IssuerFunction", AWS_ENDPOINT_URL_DYNAMODB=url)
    try:
        answer, elapsed = post(stack, "generic", *signed_call(f"store-{fault}-{time.time_ns()}"))
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "temporarily_unavailable"
        assert elapsed < HOOK_BUDGET_S
        hydra = json.loads(sample("hooks.hydra-token-hook.json")["body"])  # an API key hook never asks the store
        answered = requests.post(
            f"{stack.hooks_url}/hooks/hydra", json=hydra, headers={"X-API-Key": SECRETS["hydra"]}, timeout=30
        )
        assert answered.status_code == 200
        record_figure(
            "hook_replay_store_unreachable", {"fault": fault, "status": answer.status_code, "ms": round(elapsed * 1000)}
        )
    finally:
        stack.emulator.override_environment("IssuerFunction", AWS_ENDPOINT_URL_DYNAMODB=stack.ssm.url)


def test_ssm_down_while_reading_a_hook_secret_is_503_json_not_a_bare_502(stack: LocalDeployment) -> None:
    assert stack.emulator is not None and stack.ssm is not None
    stack.emulator.override_environment(
        "IssuerFunction", AWS_ENDPOINT_URL_SSM="http://127.0.0.1:9"
    )  # a new container: nothing cached
    try:
        answer, elapsed = post(stack, "generic", *signed_call(f"ssm-down-{time.time_ns()}"))
        assert (answer.status_code, answer.json()["error"]) == (503, "temporarily_unavailable"), answer.text
        assert "/claimflow/" not in answer.text  # no SSM path before authentication
        assert elapsed < HOOK_BUDGET_S
    finally:
        stack.emulator.override_environment("IssuerFunction", AWS_ENDPOINT_URL_SSM=stack.ssm.url)
