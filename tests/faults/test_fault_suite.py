"""The fault suite: for each fault, under ``stop`` and ``continue``, the outcome the failure
policy documents — through the emulator, moto's SSM and the third-party stand-in. Every
answer is a valid token or a clean OAuth error, never a partial token, never past the budget."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from claimflow.infra.ssm import SsmParameterStore
from claimflow.keys.manager import KeyManager
from claimflow_local.stack.deployment import LocalDeployment
from tests.faults.proxy import SwitchableProxy
from tests.support import ROOT, record_figure, sample

BUDGET_S = 3.0
MARGIN_S = 1.0  # the emulator's own HTTP hops
SEED_A = ("addThirdPartyDataToAccessToken", "AddThirdPartyDataToAccessTokenFunction")
SEED_ENV = ("addThirdPartyDataUsingEnvs", "AddThirdPartyDataUsingEnvsFunction")
FAULTY = {
    "raises": ("raises", "faulty_workflows.raises", 5),
    "lambdaTimeout": ("LambdaTimeout", "faulty_workflows.lambda_timeout", 1),
    "malformed": ("Malformed", "faulty_workflows.malformed", 5),
    "reserved": ("Reserved", "faulty_workflows.reserved", 5),
    "exits": ("Exits", "faulty_workflows.exits", 5),
}
SLOW = {"slowSideEffect": ("SlowSideEffect", "faulty_workflows.slow_side_effect", 5)}
POLICIES = ["stop", "continue"]


def _fault_template() -> str:
    resources = "".join(
        f"""
  {logical}Function:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: faults/
      Handler: {handler}
      Timeout: {timeout}
"""
        for logical, handler, timeout in [*FAULTY.values(), *SLOW.values()]
    )
    text = (ROOT / "template.yaml").read_text()
    assert "\nOutputs:\n" in text
    return text.replace("\nOutputs:\n", resources + "\nOutputs:\n")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    root = tmp_path_factory.mktemp("faulty-stack")
    for folder in ("layers", "functions", "local"):
        (root / folder).symlink_to(ROOT / folder)
    (root / "faults").mkdir()
    shutil.copy(Path(__file__).with_name("faulty_workflows.py"), root / "faults" / "faulty_workflows.py")
    (root / "template.yaml").write_text(_fault_template())
    log = (root / "functions.log").open("w")
    overrides = {"JwksFunction": {"CLAIMFLOW_KEYSET_TTL_SECONDS": "0"}}
    with LocalDeployment(root=root, log=log, env_vars=overrides, warm=False) as running:
        yield running
    log.close()


@pytest.fixture
def lam(stack: LocalDeployment) -> Any:
    return stack.lambda_client()


@pytest.fixture(autouse=True)
def _healthy_services(stack: LocalDeployment) -> Iterator[None]:
    assert stack.third_party is not None
    stack.third_party.configure(status=None, raw_body=None, delay_ms=0, failure_rate=0.0)
    yield
    stack.third_party.configure(status=None, raw_body=None, delay_ms=0, failure_rate=0.0)


def register(stack: LocalDeployment, lam: Any, workflows: list[tuple[str, str, str]], **extra: str) -> None:
    """Point the issuer at these (id, function, policy) workflows, as a template change would."""
    entries = [
        {"id": wid, "trigger": "user:tokens_generation", "function": fn, "failure_policy": policy, "timeout_ms": 2000}
        for wid, fn, policy in workflows
    ]
    current = lam.get_function_configuration(FunctionName="IssuerFunction")["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName="IssuerFunction", Environment={"Variables": {**current, "CLAIMFLOW_WORKFLOWS": json.dumps(entries), **extra}}
    )
    assert stack.emulator is not None
    stack.emulator.warm("IssuerFunction")


def issue(lam: Any) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    response = lam.invoke(FunctionName="IssuerFunction", Payload=json.dumps(sample("issuer.user-token.json")).encode())
    elapsed = time.perf_counter() - started
    assert "FunctionError" not in response
    reply: dict[str, Any] = json.loads(response["Payload"].read())
    return reply, elapsed


def assert_clean(reply: dict[str, Any], elapsed: float) -> None:
    """A valid token or a clean OAuth error; never both, never partial, never past the budget."""
    assert elapsed < BUDGET_S + MARGIN_S, f"answered after {elapsed:.2f} s"
    if "error" in reply:
        assert reply["error"] in {"invalid_request", "access_denied", "server_error", "temporarily_unavailable"}
        assert reply["error_description"]
        assert "access_token" not in reply and "id_token" not in reply
    else:
        assert reply["token_type"] == "Bearer" and reply["access_token"].count(".") == 2


def claims_of(reply: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(reply["access_token"], options={"verify_signature": False})
    return decoded


def outcome(reply: dict[str, Any], workflow_id: str) -> str:
    return str(next(r["outcome"] for r in reply["workflows"] if r["id"] == workflow_id))


THIRD_PARTY_FAULTS = {
    "500 with an HTML error page": {"status": 500, "raw_body": b"<html>Internal Server Error</html>"},
    "hangs past the deadline": {"delay_ms": 4000},
    "malformed JSON": {"raw_body": b'{"lifetime_subscriber": tru'},
    "50 MB body": {"raw_body": b"x" * (50 << 20)},
}


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("fault", sorted(THIRD_PARTY_FAULTS))
def test_third_party_faults(stack: LocalDeployment, lam: Any, fault: str, policy: str) -> None:
    register(stack, lam, [(*SEED_A, policy)])
    assert stack.third_party is not None
    stack.third_party.configure(**THIRD_PARTY_FAULTS[fault])
    reply, elapsed = issue(lam)
    assert_clean(reply, elapsed)
    if policy == "stop":
        assert reply["error"] == "server_error"
        assert "addThirdPartyDataToAccessToken" in reply["error_description"]
    else:
        assert "lifetime_subscriber" not in claims_of(reply)
        assert outcome(reply, SEED_A[0]) == "failed"


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("status", [401, 404, 500, 503])
def test_a_third_party_error_status_is_no_record_or_a_failure_never_a_false_claim(
    stack: LocalDeployment, lam: Any, status: int, policy: str
) -> None:
    # The seed's fetch returns {data} whatever the status, and `userData.lifetime_subscriber || false` would be
    # false for a real subscriber; the shipped workflow reads 404 as no such record and fails on any other.
    register(stack, lam, [(*SEED_A, policy)])
    assert stack.third_party is not None
    stack.third_party.configure(status=status)  # a JSON body: {"error": "injected failure"}
    reply, elapsed = issue(lam)
    assert_clean(reply, elapsed)
    if status == 404:
        assert claims_of(reply)["lifetime_subscriber"] is False
        assert outcome(reply, SEED_A[0]) == "ok"
    elif policy == "stop":
        assert reply["error"] == "server_error" and SEED_A[0] in reply["error_description"]
    else:
        assert "lifetime_subscriber" not in claims_of(reply) and outcome(reply, SEED_A[0]) == "failed"
    (line,) = reply["workflows"]
    assert [e["status"] for e in line["fetch_errors"]] == [status]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("fault", sorted(FAULTY))
def test_misbehaving_workflows(stack: LocalDeployment, lam: Any, fault: str, policy: str) -> None:
    logical, _, _ = FAULTY[fault]
    register(stack, lam, [(*SEED_A, "stop"), (fault, f"{logical}Function", policy)])
    reply, elapsed = issue(lam)
    assert_clean(reply, elapsed)
    if policy == "stop":
        assert reply["error"] == "server_error"
        assert f"workflow '{fault}'" in reply["error_description"]
    else:
        claims = claims_of(reply)
        assert claims["lifetime_subscriber"] is True  # the healthy workflow's patch
        assert claims["sub"] == sample("issuer.user-token.json")["subject"]
        assert "half_done" not in claims and "role" not in claims
        assert outcome(reply, fault) == "failed"


def test_a_missing_env_variable_is_the_workflows_business_not_a_failure(stack: LocalDeployment, lam: Any) -> None:
    assert stack.ssm is not None
    ssm = stack.ssm.client()
    ssm.delete_parameter(Name="/claimflow/local/env/API_KEY")
    try:
        lam.update_function_configuration(
            FunctionName=SEED_ENV[1],
            Environment={"Variables": lam.get_function_configuration(FunctionName=SEED_ENV[1])["Environment"]["Variables"]},
        )  # a new container: no cached value
        register(stack, lam, [(*SEED_ENV, "stop")])
        reply, elapsed = issue(lam)
        assert_clean(reply, elapsed)
        assert "lifetime_subscriber" not in claims_of(reply)  # the seed returns early, as the tutorial does
    finally:
        ssm.put_parameter(Name="/claimflow/local/env/API_KEY", Value="demo-api-key-7f3a9c2e51b4", Type="SecureString")


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A TCP server that accepts and never answers: SSM that is slow, not down."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("endpoint", ["down", "slow"])
def test_ssm_down_or_slow(stack: LocalDeployment, lam: Any, blackhole: str, endpoint: str, policy: str) -> None:
    url = "http://127.0.0.1:9" if endpoint == "down" else blackhole
    assert stack.emulator is not None and stack.ssm is not None
    # A new container (cold cache) whose SSM is down or hangs.
    stack.emulator.override_environment(SEED_ENV[1], AWS_ENDPOINT_URL_SSM=url)
    try:
        register(stack, lam, [(*SEED_A, "stop"), (*SEED_ENV, policy)])
        reply, elapsed = issue(lam)
        assert_clean(reply, elapsed)
        if policy == "stop":
            assert reply["error"] == "server_error" and "addThirdPartyDataUsingEnvs" in reply["error_description"]
        else:
            assert claims_of(reply)["lifetime_subscriber"] is True and outcome(reply, SEED_ENV[0]) == "failed"
    finally:
        stack.emulator.override_environment(SEED_ENV[1], AWS_ENDPOINT_URL_SSM=stack.ssm.url)


def test_ssm_that_turns_slow_behind_warm_caches_still_issues_every_token_within_the_budget(
    stack: LocalDeployment, lam: Any
) -> None:
    """The key set (issuer) and the env variables (env workflow) are cached; their TTLs pass;
    then SSM accepts connections and never answers. Every login must still get its token."""
    assert stack.emulator is not None and stack.ssm is not None
    proxy = SwitchableProxy(stack.ssm.url)
    for function in ("IssuerFunction", SEED_ENV[1]):
        stack.emulator.override_environment(
            function, AWS_ENDPOINT_URL_SSM=proxy.url, CLAIMFLOW_KEYSET_TTL_SECONDS="1", CLAIMFLOW_ENV_TTL_SECONDS="1"
        )
    try:
        register(stack, lam, [(*SEED_A, "stop"), (*SEED_ENV, "stop")])
        for _ in range(3):  # warm: key set and env variables cached
            reply, _ = issue(lam)
            assert "access_token" in reply, reply
        proxy.stall()
        time.sleep(1.5)  # both TTLs expired
        durations = []
        for _ in range(30):
            reply, elapsed = issue(lam)
            durations.append(elapsed)
            assert "access_token" in reply, reply
            assert claims_of(reply)["lifetime_subscriber"] is True
        p99 = sorted(durations)[int(0.99 * (len(durations) - 1))]
        assert p99 < BUDGET_S, f"p99 {p99:.2f} s"
        record_figure(
            "slow_ssm_warm_cache", {"tokens": len(durations), "p50_s": round(sorted(durations)[15], 3), "p99_s": round(p99, 3)}
        )
    finally:
        proxy.close()
        for function in ("IssuerFunction", SEED_ENV[1]):
            stack.emulator.override_environment(
                function, AWS_ENDPOINT_URL_SSM=stack.ssm.url, CLAIMFLOW_KEYSET_TTL_SECONDS=None, CLAIMFLOW_ENV_TTL_SECONDS=None
            )


def test_a_workflow_slower_than_the_budget_runs_once_per_token_request(stack: LocalDeployment, lam: Any) -> None:
    """Its invoke times out with the budget and is never retried, so its side effect (a call to
    the third party) happens once per request, however long it keeps running."""
    assert stack.third_party is not None
    register(stack, lam, [("slowSideEffect", "SlowSideEffectFunction", "continue")], CLAIMFLOW_ISSUANCE_BUDGET_MS="1000")
    stack.third_party.reset_counters()
    requests = 3
    for _ in range(requests):
        reply, elapsed = issue(lam)
        assert "access_token" in reply and outcome(reply, "slowSideEffect") == "failed", reply
        assert elapsed < 1.0 + MARGIN_S
    time.sleep(6)  # long enough for any retry of a timed-out invoke to have run the workflow again
    executions = stack.third_party.requests
    assert executions == requests, f"{executions} executions for {requests} requests"
    record_figure("slow_workflow_executions", {"requests": requests, "executions_per_request": executions / requests})


def _keys(stack: LocalDeployment) -> KeyManager:
    assert stack.ssm is not None
    from claimflow.environment import SsmPaths

    return KeyManager(SsmParameterStore(client=stack.ssm.client(), max_age=0), SsmPaths(stage="local"))


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("fault", ["missing", "malformed"])
def test_signing_key_missing_or_malformed(stack: LocalDeployment, lam: Any, fault: str, policy: str) -> None:
    keys = _keys(stack)
    saved = keys.store.get(keys.paths.signing_keyset)
    assert saved is not None
    if fault == "missing":
        stack.ssm.client().delete_parameter(Name=keys.paths.signing_keyset)  # type: ignore[union-attr]
    else:
        keys.store.put(keys.paths.signing_keyset, '{"version": 1, "keys": "gone"}', secret=True)
    try:
        register(stack, lam, [(*SEED_A, policy)])
        reply, elapsed = issue(lam)
        assert_clean(reply, elapsed)
        assert reply["error"] == "server_error"
        assert ("no signing key set" if fault == "missing" else "malformed") in reply["error_description"]
    finally:
        keys.store.put(keys.paths.signing_keyset, saved.value, secret=True)


def test_keys_rotated_mid_run_keep_every_issued_token_valid(stack: LocalDeployment, lam: Any) -> None:
    import urllib.request

    register(stack, lam, [(*SEED_A, "stop")], CLAIMFLOW_KEYSET_TTL_SECONDS="0")
    before, _ = issue(lam)
    keys = _keys(stack)
    keys.update("add")
    during, _ = issue(lam)  # a next key is published, the active one still signs
    keys.update("promote", grace_seconds=0)
    after, elapsed = issue(lam)
    assert_clean(after, elapsed)
    with urllib.request.urlopen(stack.jwks_url, timeout=10) as response:
        jwks = jwt.PyJWKSet.from_dict(json.loads(response.read()))
    kids = [jwt.get_unverified_header(r["access_token"])["kid"] for r in (before, during, after)]
    assert kids[0] == kids[1] != kids[2]
    for reply in (before, during, after):
        header = jwt.get_unverified_header(reply["access_token"])
        jwt.decode(reply["access_token"], jwks[header["kid"]], algorithms=[header["alg"]], audience="https://api.example.com/v1")
