"""The local Lambda emulator, driven by boto3 exactly as the issuer drives AWS Lambda."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from claimflow_local.emulator import LambdaEmulator

FUNCTIONS = """
import os, time

def echo(event, context):
    return {"event": event, "greeting": os.environ["GREETING"], "remaining_ms": context.get_remaining_time_in_millis()}

def crash(event, context):
    raise ValueError("bad input: " + str(event.get("n")))

def slow(event, context):
    time.sleep(5)

def sleepy(event, context):
    time.sleep(0.3)
    return os.getpid()

def unserializable(event, context):
    return {1, 2}
"""

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting: {Type: String, Default: hello}
Globals:
  Function:
    Runtime: python3.12
    Timeout: 3
    Environment:
      Variables:
        GREETING: !Ref Greeting
Resources:
  Echo: {Type: AWS::Serverless::Function, Properties: {CodeUri: fns/, Handler: fns.echo}}
  Crash: {Type: AWS::Serverless::Function, Properties: {CodeUri: fns/, Handler: fns.crash}}
  Slow: {Type: AWS::Serverless::Function, Properties: {CodeUri: fns/, Handler: fns.slow, Timeout: 1}}
  Sleepy: {Type: AWS::Serverless::Function, Properties: {CodeUri: fns/, Handler: fns.sleepy}}
  Unserializable: {Type: AWS::Serverless::Function, Properties: {CodeUri: fns/, Handler: fns.unserializable}}
  Broken: {Type: AWS::Serverless::Function, Properties: {CodeUri: broken/, Handler: app.handler}}
"""


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaEmulator]:
    root: Path = tmp_path_factory.mktemp("stack")
    (root / "fns").mkdir()
    (root / "fns" / "fns.py").write_text(textwrap.dedent(FUNCTIONS))
    (root / "broken").mkdir()
    (root / "broken" / "app.py").write_text("import module_that_does_not_exist\n")
    (root / "template.yaml").write_text(TEMPLATE)
    with LambdaEmulator(root / "template.yaml", parameter_overrides={"Greeting": "hi"}) as running:
        yield running


@pytest.fixture(scope="module")
def lambda_client(emulator: LambdaEmulator) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 0}, read_timeout=30, max_pool_connections=8),
    )


def invoke(client: Any, name: str, payload: Any = None) -> tuple[str | None, Any]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_a_handler_gets_the_payload_its_template_environment_and_a_context(lambda_client: Any) -> None:
    error, body = invoke(lambda_client, "Echo", {"n": 1})
    assert error is None
    assert body["event"] == {"n": 1}
    assert body["greeting"] == "hi"  # parameter override, as sam local --parameter-overrides
    assert 0 < body["remaining_ms"] <= 3000


def test_function_arns_resolve_like_names(lambda_client: Any) -> None:
    response = lambda_client.invoke(FunctionName="arn:aws:lambda:us-east-1:123456789012:function:Echo", Payload=b"{}")
    assert response["StatusCode"] == 200


def test_a_raising_handler_is_an_unhandled_function_error_in_lambdas_shape(lambda_client: Any) -> None:
    error, body = invoke(lambda_client, "Crash", {"n": 7})
    assert error == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad input: 7"
    assert isinstance(body["stackTrace"], list)


def test_a_timeout_is_reported_as_lambda_does_and_the_sandbox_is_replaced(lambda_client: Any, emulator: LambdaEmulator) -> None:
    started = time.perf_counter()
    error, body = invoke(lambda_client, "Slow")
    assert time.perf_counter() - started < 2.5
    assert error == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    assert emulator.pools["Slow"].idle == []


def test_an_import_error_is_reported_on_invoke(lambda_client: Any) -> None:
    error, body = invoke(lambda_client, "Broken")
    assert error == "Unhandled"
    assert body["errorType"].startswith("Runtime.ImportModuleError")
    assert "module_that_does_not_exist" in body["errorMessage"]


def test_a_reply_that_is_not_json_is_a_marshal_error(lambda_client: Any) -> None:
    error, body = invoke(lambda_client, "Unserializable")
    assert (error, body["errorType"]) == ("Unhandled", "Runtime.MarshalError")


def test_an_unknown_function_is_resource_not_found(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName="Nope", Payload=b"{}")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_concurrent_invocations_run_in_parallel_sandboxes_and_stay_warm(lambda_client: Any, emulator: LambdaEmulator) -> None:
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: invoke(lambda_client, "Sleepy"), range(4)))  # cold: one sandbox each
        started = time.perf_counter()
        pids = list(pool.map(lambda _: invoke(lambda_client, "Sleepy")[1], range(4)))
    assert time.perf_counter() - started < 0.9, "four 300 ms invocations must overlap"
    assert len(set(pids)) == 4
    assert emulator.pools["Sleepy"].cold_starts == 4  # the second round reused warm sandboxes


def test_update_function_configuration_gives_new_sandboxes_the_new_environment(lambda_client: Any) -> None:
    assert invoke(lambda_client, "Echo")[1]["greeting"] == "hi"
    updated = lambda_client.update_function_configuration(FunctionName="Echo", Environment={"Variables": {"GREETING": "bonjour"}})
    assert updated["Environment"]["Variables"] == {"GREETING": "bonjour"}
    assert invoke(lambda_client, "Echo")[1]["greeting"] == "bonjour"
    assert lambda_client.get_function_configuration(FunctionName="Echo")["Environment"]["Variables"] == {"GREETING": "bonjour"}
