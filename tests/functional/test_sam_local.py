"""``sam local invoke`` and ``sam local start-lambda``, stock, with the files this project
ships (samconfig.toml's local_invoke and local_start_lambda settings, local/sam-local-env.json),
against the local services ``make dev`` runs. No Docker here: SAM CLI runs with the test-only
runtime of ``claimflow_local.sam_local_runtime`` at its runtime seam, which runs each built
function through awslambdaric in a subprocess instead of a container. The shipped ports are
swapped for this run's free ones; every other value is the shipped one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claimflow_local.stack.deployment import LocalDeployment
from claimflow_local.stack.ports import DEV_PORTS
from tests.support import EVENTS, ROOT, function_for_event, hook_claims, subscriber_claim

SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
PLUGIN = ROOT / "tools" / "claimflow_local" / "sam_local_runtime.py"
START_LAMBDA_PORT = 3011  # samconfig.toml's local_start_lambda port

pytestmark = pytest.mark.skipif(not SAM_PYTHON.exists(), reason="SAM CLI is installed by make (.venv-sam)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def shipped(command: str) -> dict[str, Any]:
    parameters: dict[str, Any] = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"][command]["parameters"]
    return parameters


def repoint(text: str, ports: dict[int, int]) -> str:
    for shipped_port, port in ports.items():
        text = text.replace(f":{shipped_port}", f":{port}")
    return text


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalDeployment, dict[int, int], Path]]:
    """make dev's services on free ports, and the shipped env-vars file pointed at them."""
    with LocalDeployment(warm=False) as stack:
        assert stack.ssm is not None and stack.third_party is not None and stack.emulator is not None
        jwks_port = int(stack.emulator.function_urls["JwksFunction"].rstrip("/").rsplit(":", 1)[1])
        ports = {
            DEV_PORTS["ssm"]: int(stack.ssm.url.rsplit(":", 1)[1]),
            DEV_PORTS["third_party"]: int(stack.third_party.url.rsplit(":", 1)[1]),
            DEV_PORTS["jwks"]: jwks_port,
            START_LAMBDA_PORT: free_port(),
        }
        env_vars = tmp_path_factory.mktemp("sam-local") / "env.json"
        env_vars.write_text(repoint((ROOT / shipped("local_invoke")["env_vars"]).read_text(), ports))
        yield stack, ports, env_vars


def sam(*args: str, env_vars: Path, ports: dict[int, int], command: str = "local_invoke") -> list[str]:
    overrides = repoint(shipped(command)["parameter_overrides"], ports)
    return [str(SAM_PYTHON), str(PLUGIN), "local", *args, "--env-vars", str(env_vars), "--parameter-overrides", overrides]


@pytest.fixture(scope="module")
def start_lambda_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What ``sam local start-lambda`` prints (the functions' log lines, END and REPORT lines)."""
    return tmp_path_factory.mktemp("start-lambda") / "stderr.log"


@pytest.fixture(scope="module")
def start_lambda(services: tuple[LocalDeployment, dict[int, int], Path], start_lambda_log: Path) -> Iterator[int]:
    _, ports, env_vars = services
    port = ports[START_LAMBDA_PORT]
    with start_lambda_log.open("wb") as stderr:
        process = subprocess.Popen(
            [*sam("start-lambda", env_vars=env_vars, ports=ports, command="local_start_lambda"), "--port", str(port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        )
    deadline = time.monotonic() + 60
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert process.poll() is None, "sam local start-lambda exited"
        assert time.monotonic() < deadline, "sam local start-lambda did not start"
        time.sleep(0.2)
    yield port
    process.terminate()
    process.wait(10)


def invoke(function: str, event: str, services: tuple[LocalDeployment, dict[int, int], Path]) -> Any:
    return invoke_logged(function, event, services)[0]


def invoke_logged(function: str, event: str, services: tuple[LocalDeployment, dict[int, int], Path]) -> tuple[Any, str]:
    """The function's answer and the log lines sam local printed for it."""
    _, ports, env_vars = services
    run = subprocess.run(
        sam("invoke", function, "-e", str(EVENTS / event), env_vars=env_vars, ports=ports),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1]), run.stderr


FUNCTION_FOR_EVENT = {path.name: function_for_event(path.name) for path in sorted(EVENTS.glob("*.json"))}


@pytest.mark.parametrize("event", sorted(FUNCTION_FOR_EVENT))
def test_sam_local_invoke_runs_every_function_on_its_sample_event(
    event: str, services: tuple[LocalDeployment, dict[int, int], Path], start_lambda: int
) -> None:
    body, log = invoke_logged(FUNCTION_FOR_EVENT[event], event, services)
    assert "errorType" not in body, body
    if event.startswith("workflow."):
        assert body["outcome"] == "ok", body
        assert body["patches"], body
    elif event.startswith("issuer."):
        assert body["token_type"] == "Bearer", body
        assert all(run["outcome"] == "ok" for run in body["workflows"]), body["workflows"]
    elif event.startswith("cognito."):
        assert body["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]["claimsToAddOrOverride"], body
    elif event.startswith("hooks."):  # signed by the plugin as its stack signs, now: authenticated, claims added
        route = json.loads((EVENTS / event).read_text())["rawPath"].removeprefix("/hooks/")
        assert body["statusCode"] != 401, body
        # start-lambda starts a sandbox for every workflow call here (1-2 s each), which can outlast
        # a short budget (Entra's 1.5 s): the issuer then refuses in the stack's shape, and says why.
        if "did not answer within" not in log:
            assert body["statusCode"] == 200, body
            assert subscriber_claim(route).items() <= hook_claims(route, json.loads(body["body"])).items(), body
    elif event.startswith("rotation."):  # make dev's key set is fresh: nothing is due
        assert body["actions"] == [] and list(body["keys"].values()) == ["active"], body
    else:
        assert body["statusCode"] == 200, body


def test_the_issuer_under_sam_local_invokes_workflows_through_start_lambda_and_signs_for_make_devs_issuer(
    services: tuple[LocalDeployment, dict[int, int], Path], start_lambda: int
) -> None:
    import jwt

    _, ports, _ = services
    body = invoke("IssuerFunction", "issuer.user-token.json", services)
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["lifetime_subscriber"] is True  # the seed workflows ran, in start-lambda's sandboxes
    assert claims["iss"] == f"http://127.0.0.1:{ports[DEV_PORTS['jwks']]}"  # the IssuerUrl override, resolved by sam local


def test_the_plugin_refuses_a_sam_cli_it_was_not_written_for() -> None:
    probe = (
        "import runpy, sys, samcli; samcli.__version__ = '0.0.1'; sys.argv = ['x', '--version']; "
        f"runpy.run_path({str(PLUGIN)!r}, run_name='__main__')"
    )
    run = subprocess.run([str(SAM_PYTHON), "-c", probe], capture_output=True, text=True, check=False, cwd=ROOT)
    assert run.returncode != 0
    assert "was written for aws-sam-cli 1.170.0" in run.stderr + run.stdout


def test_the_env_vars_file_sets_only_variables_the_template_declares() -> None:
    """sam local sets only declared variables; a name the template lacks would be silently ignored."""
    from claimflow_local.template import SamTemplate

    template = SamTemplate.load(ROOT / "template.yaml")
    shipped_file = json.loads((ROOT / shipped("local_invoke")["env_vars"]).read_text())
    globals_ = set(template.document["Globals"]["Function"]["Environment"]["Variables"])
    for target, variables in shipped_file.items():
        declared = globals_ | (
            set(template.function_resources()[target]["Properties"].get("Environment", {}).get("Variables", {}))
            if target != "Parameters"
            else set()
        )
        assert set(variables) <= declared, f"{target}: {sorted(set(variables) - declared)} not declared in template.yaml"


def test_start_lambda_keeps_a_workflow_warm_between_invokes_as_its_warm_containers_setting_asks(
    start_lambda: int, start_lambda_log: Path
) -> None:
    """samconfig.toml's start-lambda asks for EAGER warm containers: a workflow's later invokes
    reuse the sandbox the first started, so the issuer's calls through it are not each a cold
    start (a cold start under load can outlast a workflow's 2 s deadline). Lambda's REPORT line
    carries ``Init Duration`` on a cold start only: three invokes, one init."""
    import boto3

    client = boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{start_lambda}",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    payload = (EVENTS / "workflow.mapClientToOrganization.json").read_bytes()
    before = start_lambda_log.read_text(errors="replace").count("REPORT RequestId:")
    for _ in range(3):
        answer = json.loads(client.invoke(FunctionName="MapClientToOrganizationFunction", Payload=payload)["Payload"].read())
        assert answer["outcome"] == "ok", answer
    deadline = time.monotonic() + 10
    while len(reports := _reports(start_lambda_log)[before:]) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # sam's stderr writer may lag the answer
    assert len(reports) == 3, reports
    cold = [line for line in reports if "Init Duration:" in line]
    assert len(cold) <= 1, reports  # at most the first: the other two ran in the sandbox it left warm
    assert "Init Duration:" not in reports[1] + reports[2], reports


def _reports(log: Path) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines() if line.startswith("REPORT RequestId:")]
