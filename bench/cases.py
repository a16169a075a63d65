"""The warm benchmarks, in this process. Each returns ({key: number}, {key: details}); the
details say what is measured, against which baseline (measured in the same run), the target
and which way is better, so ``bench/__main__`` can say whether each target was met.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt

from bench.harness import interleaved_ratio
from claimflow import EventView, WorkflowSettings, access_token_custom_claims, create_handler, fetch, get_environment_variable
from claimflow.environment import SsmPaths
from claimflow.infra.guarded_http_client import RequestsHttpClient
from claimflow.infra.parameters import InMemoryParameterStore, ParameterStore
from claimflow.issuer import InProcessWorkflowInvoker, IssuerConfig, TokenIssuer, WorkflowRegistration, WorkflowRegistry
from claimflow.keys import KeyProvider
from claimflow.keys.manager import KeyManager
from claimflow.runtime import WorkflowServices
from claimflow.tokens import TokenKind

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
PATHS = SsmPaths(stage="bench")
Result = tuple[dict[str, Any], dict[str, dict[str, Any]]]


def _request() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS / "issuer.user-token.json").read_text())
    document["scope"] = ["profile"]  # one token: the ratio compares like with like
    return document


def _issuer(workflows: dict[str, Any], store: ParameterStore, **config: Any) -> TokenIssuer:
    registry = WorkflowRegistry([WorkflowRegistration(id=w, trigger="user:tokens_generation", function=w) for w in workflows])  # type: ignore[arg-type]
    return TokenIssuer(
        config=IssuerConfig(issuer_url="https://issuer.bench", **config),
        registry=registry,
        invoker=InProcessWorkflowInvoker(workflows),
        keys=KeyProvider(store, PATHS.signing_keyset),
    )


def _keys(alg: str) -> InMemoryParameterStore:
    store = InMemoryParameterStore(max_age=3600)
    KeyManager(store, PATHS).init(alg=alg)
    return store


def _trivial(workflow_id: str, services: WorkflowServices) -> Any:
    settings = WorkflowSettings(id=workflow_id, trigger="user:tokens_generation", bindings={"kinde.accessToken": {}})

    def workflow(event: EventView) -> None:
        access_token_custom_claims()[f"{workflow_id}_flag"] = True

    return create_handler(settings, workflow, services=services)


def _vs_raw_sign(issuer: TokenIssuer, store: ParameterStore, alg: str) -> tuple[float, float, float]:
    """(issues/s, PyJWT encodes/s, ratio): PyJWT encoding the same final claims with a parsed key."""
    request = _request()
    claims = issuer.issue(request).claims[TokenKind.ACCESS]
    active = KeyManager(store, PATHS).load().active  # type: ignore[union-attr]
    key, kid = jwt.PyJWK(dict(active.jwk), algorithm=alg).key, active.kid

    def raw_encode() -> None:
        jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, "typ": "at+jwt"})

    return interleaved_ratio(lambda: issuer.issue(request), raw_encode)


def issuer_core_vs_sign(alg: str) -> Result:
    store = _keys(alg)
    issue_rate, sign_rate, ratio = _vs_raw_sign(_issuer({}, store), store, alg)
    name = f"issuer_core_vs_sign_{alg.lower()}"
    return {name: round(ratio, 3)}, {
        name: {
            "what": "issuance with zero workflows (validate the request, mint, sign) per second",
            "baseline": f"PyJWT {alg} encode of the same claims with a parsed key",
            "issues_per_s": round(issue_rate),
            "baseline_per_s": round(sign_rate),
            "target": 0.9 if alg == "RS256" else 0.5,
            "higher_is_better": True,
        }
    }


def inprocess_workflow_overhead(workflows: int = 4) -> Result:
    """Time added per token by each trivial in-process workflow: (t(n) - t(0)) / n, interleaved."""
    store = _keys("RS256")
    services = WorkflowServices(paths=PATHS, _parameters=store)
    bare = _issuer({}, store)
    loaded = _issuer({f"w{i}": _trivial(f"w{i}", services) for i in range(workflows)}, store)
    request = _request()
    loaded_rate, bare_rate, _ = interleaved_ratio(lambda: loaded.issue(request), lambda: bare.issue(request))
    per_workflow_us = (1 / loaded_rate - 1 / bare_rate) / workflows * 1e6
    return {"inprocess_workflow_overhead_us": round(per_workflow_us, 1)}, {
        "inprocess_workflow_overhead_us": {
            "what": f"µs each trivial in-process workflow adds to a token: (issue with {workflows} − issue with 0) ÷ {workflows}",
            "baseline": "the same issuer with zero workflows, interleaved",
            "baseline_us": round(1e6 / bare_rate, 1),
            "target": 100,
            "higher_is_better": False,
        }
    }


def _seed_handler(directory: str, services: WorkflowServices) -> Any:
    spec = importlib.util.spec_from_file_location(f"bench_{directory}", ROOT / "functions" / directory / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return create_handler(module.workflow_settings, module.fetch_third_party_data_workflow, services=services)


@contextmanager
def _stand_in_elsewhere(api_key: str, subscriber: str) -> Iterator[str]:
    """The third-party stand-in in a process of its own: its HTTP serving is not our cost."""
    code = (
        "import sys; from claimflow_local.stack.third_party import StubThirdPartyApi; "
        f"stub = StubThirdPartyApi(api_key={api_key!r}, subscribers=[{subscriber!r}]).start(); "
        "print(stub.url, flush=True); sys.stdin.read()"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.kill()
        process.wait()


def seed_workflows_issue_vs_sign() -> Result:
    """The tutorial's two workflows, in-process, each fetching from the loopback stand-in."""
    with _stand_in_elsewhere("bench-api-key", "kp_6a0713b9e5d14c3e9a2f0c4d8b7e1f21") as url:
        return _seed_workflows(url)


def _seed_workflows(url: str) -> Result:
    store = _keys("RS256")
    store.put(f"{PATHS.shared_env}/API_KEY", "bench-api-key", secret=True)
    os.environ["API_BASE_URL"] = url
    services = WorkflowServices(local_mode=True, paths=PATHS, _parameters=store, _http=RequestsHttpClient(allow_private=True))
    issuer = _issuer(
        {
            "addThirdPartyDataToAccessToken": _seed_handler("add_third_party_data_to_access_token", services),
            "addThirdPartyDataUsingEnvs": _seed_handler("add_third_party_data_using_envs", services),
        },
        store,
    )
    issue_rate, sign_rate, ratio = _vs_raw_sign(issuer, store, "RS256")
    return {"seed_workflows_issue_vs_sign_rs256": round(ratio, 3)}, {
        "seed_workflows_issue_vs_sign_rs256": {
            "what": "issuance running the tutorial's two workflows in-process, each a real HTTP fetch to the "
            "loopback stand-in (in its own process)",
            "baseline": "PyJWT RS256 encode of the same final claims",
            "issues_per_s": round(issue_rate),
            "baseline_per_s": round(sign_rate),
            "target": 0.5,
            "higher_is_better": True,
        }
    }


class _LambdaEndpoint(BaseHTTPRequestHandler):
    """A loopback Lambda Invoke API answering at once: what is left is the client's cost."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall between them
    reply = b'{"contract":"claimflow.workflow-invocation/v1","outcome":"ok"}'

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.reply)))
        self.end_headers()
        self.wfile.write(self.reply)

    def log_message(self, *_: Any) -> None:
        pass


def _cpu_ms_per_call(call: Callable[[], object], calls: int = 400) -> float:
    """CPU of the calling thread only (the endpoint's threads are not counted), per call."""
    for _ in range(20):
        call()
    samples = []
    for _ in range(5):
        started = time.thread_time()
        for _ in range(calls // 5):
            call()
        samples.append((time.thread_time() - started) / (calls // 5) * 1000)
    return statistics.median(samples)


def issuer_cpu_per_lambda_invoke() -> Result:
    import boto3
    from botocore.config import Config

    from claimflow.infra.lambda_api import LambdaInvokeClient

    server = ThreadingHTTPServer(("127.0.0.1", 0), _LambdaEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    payload = json.loads((EVENTS / "workflow.addThirdPartyDataToAccessToken.json").read_text())
    ours = LambdaInvokeClient(endpoint=endpoint, region="us-east-1", credentials=("AKIDBENCH", "bench-secret"))
    ours_ms = _cpu_ms_per_call(lambda: ours.invoke("wf", payload, deadline=time.monotonic() + 5))
    client = boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDBENCH",
        aws_secret_access_key="bench-secret",
        config=Config(retries={"max_attempts": 1}),
    )
    body = json.dumps(payload).encode()
    boto3_ms = _cpu_ms_per_call(lambda: client.invoke(FunctionName="wf", Payload=body)["Payload"].read())
    server.shutdown()
    return {"issuer_cpu_per_lambda_invoke_ms": round(ours_ms, 3)}, {
        "issuer_cpu_per_lambda_invoke_ms": {
            "what": "CPU of the issuer's invoking thread per Lambda Invoke (sign, send, read the reply), loopback endpoint",
            "baseline": "a boto3 Lambda client doing the same Invoke",
            "baseline_ms": round(boto3_ms, 3),
            "target": 0.3,
            "higher_is_better": False,
        }
    }


def ssm_calls_per_path_per_ttl(ssm: Any, *, ttl: float = 1.0, windows: int = 4, threads: int = 8) -> Result:
    """Steady concurrent traffic across ``windows - 1`` TTL expiries: every path should be read
    once per window, however many requests arrive together when it expires."""
    from claimflow.infra.ssm import SsmParameterStore

    os.environ["CLAIMFLOW_SSM_ENDPOINT"] = ssm.url
    setup = ssm.client()
    setup.put_parameter(Name=f"{PATHS.shared_env}/API_KEY", Value="bench-secret-1234", Type="SecureString", Overwrite=True)
    KeyManager(SsmParameterStore(client=setup, max_age=0), PATHS).init(alg="RS256", force=True)
    store = SsmParameterStore(max_age=ttl)
    calls = {"n": 0}
    lock = threading.Lock()
    for method in ("_get", "_get_by_path"):  # each is one SSM request (one page here)
        original = getattr(store, method)

        def counted(*args: Any, _original: Any = original) -> Any:
            with lock:
                calls["n"] += 1
            return _original(*args)

        setattr(store, method, counted)
    services = WorkflowServices(local_mode=True, paths=PATHS, _parameters=store)

    def env_workflow(workflow_id: str) -> Any:
        settings = WorkflowSettings(
            id=workflow_id, trigger="user:tokens_generation", bindings={"kinde.accessToken": {}, "kinde.env": {}}
        )

        def workflow(event: EventView) -> None:
            access_token_custom_claims()["has_key"] = get_environment_variable("API_KEY") is not None

        return create_handler(settings, workflow, services=services)

    issuer = _issuer({"e1": env_workflow("e1"), "e2": env_workflow("e2")}, store)
    request = _request()
    paths = 4  # the key set, the stage's env, e1's env, e2's env
    stop = time.monotonic() + ttl * (windows - 0.5)
    issued = {"n": 0}

    def traffic() -> None:
        while time.monotonic() < stop:
            issuer.issue(request)
            with lock:
                issued["n"] += 1

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: traffic(), range(threads)))
    os.environ.pop("CLAIMFLOW_SSM_ENDPOINT")
    return {"ssm_calls_per_path_per_ttl": round(calls["n"] / (paths * windows), 3)}, {
        "ssm_calls_per_path_per_ttl": {
            "what": f"SSM requests ÷ (paths × TTL windows): {paths} paths, TTL {ttl} s, {windows} windows "
            f"({windows - 1} expiries), {threads} threads issuing without pause ({issued['n']} tokens)",
            "calls": calls["n"],
            "target": 1.0,
            "higher_is_better": False,
        }
    }


def fanout(stub: Any) -> Result:
    stub.configure(delay_ms=100)
    http = RequestsHttpClient(allow_private=True)
    services = WorkflowServices(local_mode=True, paths=PATHS, _http=http)
    store = _keys("RS256")

    def waiting(workflow_id: str) -> Any:
        settings = WorkflowSettings(
            id=workflow_id, trigger="user:tokens_generation", bindings={"kinde.accessToken": {}, "kinde.fetch": {}, "url": {}}
        )

        def workflow(event: EventView) -> None:
            access_token_custom_claims()[workflow_id] = fetch(f"{stub.url}/api/user/{workflow_id}").data["lifetime_subscriber"]

        return create_handler(settings, workflow, services=services)

    issuer = _issuer({f"w{i}": waiting(f"w{i}") for i in range(4)}, store)
    request = _request()
    for _ in range(3):
        issuer.issue(request)  # warm connections
    latencies = []
    for _ in range(15):
        started = time.perf_counter()
        issuer.issue(request)
        latencies.append((time.perf_counter() - started) * 1000)
    stub.configure(delay_ms=0)
    p50 = statistics.median(latencies)
    return {"fanout_4x100ms_ratio": round(p50 / 100, 3)}, {
        "fanout_4x100ms_ratio": {
            "what": "issuance with 4 workflows each waiting 100 ms on a loopback fetch, p50 of 15",
            "baseline": "one 100 ms wait",
            "issue_p50_ms": round(p50, 1),
            "target": 1.1,
            "higher_is_better": False,
        }
    }


def tcp_connections(stub: Any) -> Result:
    services = WorkflowServices(local_mode=True, paths=PATHS, _http=RequestsHttpClient(allow_private=True))
    settings = WorkflowSettings(id="f", trigger="user:tokens_generation", bindings={"kinde.fetch": {}, "url": {}})
    handler = create_handler(settings, lambda event: fetch(f"{stub.url}/api/user/u"), services=services)
    request = json.loads((EVENTS / "workflow.addThirdPartyDataToAccessToken.json").read_text())
    request["workflow_id"] = "f"
    stub.reset_counters()
    for _ in range(1000):
        handler(request, None)
    return {"tcp_connections_per_1000_fetches": stub.connections}, {
        "tcp_connections_per_1000_fetches": {
            "what": "TCP connections the stand-in accepted for 1000 warm invocations that each fetch once",
            "requests_seen": stub.requests,
            "target": 1,
            "higher_is_better": False,
        }
    }
