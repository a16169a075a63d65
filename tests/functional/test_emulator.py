"""The local Lambda emulator, driven by boto3 exactly as AWS Lambda is driven, with each
sandbox running a runtime interface client over the Lambda Runtime API: AWS's awslambdaric,
and the built-in client that stands in where awslambdaric has no wheel. Both must give
Lambda's answers and error shapes."""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from claimflow_local.emulator import LambdaEmulator
from claimflow_local.emulator.runtime_api import Invocation, RuntimeApi
from claimflow_local.emulator.sandbox import runtime_client

FUNCTIONS = """
import json, os, sys, time

def echo(event, context):
    print("echo was called")
    return {
        "event": event,
        "greeting": os.environ["GREETING"],
        "remaining_ms": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "trace": os.environ.get("_X_AMZN_TRACE_ID", ""),
        "site_packages": [p for p in sys.path if "site-packages" in p and ".venv" in p],
    }

def crash(event, context):
    raise ValueError("bad input: " + str(event.get("n")))

def slow(event, context):
    time.sleep(60)

def sleepy(event, context):
    started = time.time()
    time.sleep(0.3)
    return {"pid": os.getpid(), "started": started, "ended": time.time()}

def unserializable(event, context):
    return {1, 2}

def exits(event, context):
    os._exit(3)

def chatty(event, context):
    for n in range(60):
        print(f"line {n}")
    return n

def dev_only_import(event, context):
    import jsonschema  # in the development venv, in no function or layer
    return "imported"
"""

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting: {Type: String, Default: hello}
Globals:
  Function:
    Runtime: python3.12
    Timeout: 30
    Environment:
      Variables:
        GREETING: !Ref Greeting
Resources:
  Echo: {Type: AWS::Serverless::Function, Properties: {CodeUri: fns/, Handler: fns.echo}}
  Crash: {Type: AWS::Serverless::Function, Properties: {CodeUri: fns/, Handler: fns.crash}}
  Slow: {Type: AWS::Serverless::Function, Properties: {CodeUri: fns/, Handler: fns.slow, Timeout: 1}}
  Sleepy: {Type: AWS::Serverless::Function, Properties: {CodeUri: fns/, Handler: fns.sleepy}}
  Unserializable: {Type: AWS::Serverless::Function, Properties: {CodeUri: fns/, Handler: fns.unserializable}}
  Exits: {Type: AWS::Serverless::Function, Properties: {CodeUri: fns/, Handler: fns.exits}}
  Chatty: {Type: AWS::Serverless::Function, Properties: {CodeUri: fns/, Handler: fns.chatty}}
  DevOnlyImport: {Type: AWS::Serverless::Function, Properties: {CodeUri: fns/, Handler: fns.dev_only_import}}
  Broken: {Type: AWS::Serverless::Function, Properties: {CodeUri: broken/, Handler: app.handler}}
  NoSuchHandler: {Type: AWS::Serverless::Function, Properties: {CodeUri: fns/, Handler: fns.nothing_here}}
  MalformedHandler: {Type: AWS::Serverless::Function, Properties: {CodeUri: fns/, Handler: no_dot}}
  SyntaxBroken: {Type: AWS::Serverless::Function, Properties: {CodeUri: syntax/, Handler: app.handler}}
  ExitsAtInit: {Type: AWS::Serverless::Function, Properties: {CodeUri: exits/, Handler: app.handler}}
  Vanishing:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: vanishing/, Handler: app.handler, FunctionUrlConfig: {AuthType: NONE}}
"""

CLIENTS = ["awslambdaric", "builtin"]


@pytest.fixture(scope="module", params=CLIENTS)
def emulator(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaEmulator]:
    root: Path = tmp_path_factory.mktemp("stack")
    (root / "fns").mkdir()
    (root / "fns" / "fns.py").write_text(textwrap.dedent(FUNCTIONS))
    for folder, code in {
        "broken": "import module_that_does_not_exist\n",
        "syntax": "def handler(event, context)\n    return 1\n",
        "exits": "import sys\nsys.exit(7)\n",
        "vanishing": "def handler(event, context):\n    return 1\n",
    }.items():
        (root / folder).mkdir()
        (root / folder / "app.py").write_text(code)
    (root / "template.yaml").write_text(TEMPLATE)
    client = runtime_client("python3.12", prefer=request.param)
    assert client.name.startswith("awslambdaric" if request.param == "awslambdaric" else "built-in"), client.name
    with LambdaEmulator(root / "template.yaml", parameter_overrides={"Greeting": "hi"}, client=client) as running:
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


def test_a_handler_gets_the_payload_its_template_environment_and_lambdas_context(lambda_client: Any) -> None:
    error, body = invoke(lambda_client, "Echo", {"n": 1})
    assert error is None
    assert body["event"] == {"n": 1}
    assert body["greeting"] == "hi"  # parameter override, as sam local --parameter-overrides
    assert 10_000 < body["remaining_ms"] <= 30_000  # from Lambda-Runtime-Deadline-Ms, epoch milliseconds
    assert len(body["request_id"]) == 36
    assert body["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:Echo"
    assert body["trace"].startswith("Root=1-")
    assert body["site_packages"] == [], "nothing of the development venv is on a sandbox's path"


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
    assert time.perf_counter() - started < 15  # its 1 s timeout (and a cold start), not the handler's 60 s
    assert error == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    assert emulator.pools["Slow"].idle == []


@pytest.mark.parametrize(
    ("function", "error_type", "message"),
    [
        ("Broken", "Runtime.ImportModuleError", "Unable to import module 'app': No module named 'module_that_does_not_exist'"),
        ("NoSuchHandler", "Runtime.HandlerNotFound", "Handler 'nothing_here' missing on module 'fns'"),
        ("MalformedHandler", "Runtime.MalformedHandlerName", "Bad handler 'no_dot'"),
        ("SyntaxBroken", "Runtime.UserCodeSyntaxError", "Syntax error in module 'app'"),
        ("ExitsAtInit", "Runtime.ExitError", "Runtime exited with error: exit status 7"),
        ("Exits", "Runtime.ExitError", "Runtime exited with error: exit status 3"),
        ("Unserializable", "Runtime.MarshalError", "Unable to marshal response"),
    ],
)
def test_each_kind_of_failure_takes_lambdas_error_type(lambda_client: Any, function: str, error_type: str, message: str) -> None:
    started = time.perf_counter()
    error, body = invoke(lambda_client, function)
    assert error == "Unhandled", body
    assert body["errorType"] == error_type, body
    assert message in body["errorMessage"]
    assert time.perf_counter() - started < 15, "an exit is reported at once, not at the 30 s timeout"


def test_a_package_of_the_development_venv_is_not_there_at_run_time(lambda_client: Any) -> None:
    error, body = invoke(lambda_client, "DevOnlyImport")
    assert error == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("ModuleNotFoundError", "No module named 'jsonschema'")


def test_the_log_tail_is_lambdas_the_last_4_kb_with_start_end_and_report(lambda_client: Any) -> None:
    response = lambda_client.invoke(FunctionName="Echo", Payload=b"{}", LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()
    assert tail.startswith("START RequestId: ") and "echo was called" in tail
    assert "END RequestId: " in tail and "REPORT RequestId: " in tail and "Duration: " in tail
    assert len(tail.encode()) <= 4096


def test_a_sandbox_that_cannot_start_is_lambdas_service_exception_naming_why(
    lambda_client: Any, emulator: LambdaEmulator
) -> None:
    task_root = emulator.pools["Vanishing"].spec.code_dir
    shutil.rmtree(task_root)  # its built folder deleted under a running emulator
    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName="Vanishing", Payload=b"{}")
    answer = raised.value.response
    assert (answer["ResponseMetadata"]["HTTPStatusCode"], answer["Error"]["Code"]) == (500, "ServiceException")
    assert "the emulator could not run Vanishing" in answer["Error"]["Message"]
    assert f"built folder {task_root} is gone" in answer["Error"]["Message"]
    url = urlsplit(emulator.function_urls["Vanishing"])
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    connection.request("GET", "/")
    reply = connection.getresponse()  # a function URL's caller is public: the status, not the cause
    assert (reply.status, json.loads(reply.read())) == (500, {"message": "Internal Server Error"})


def test_the_log_tail_has_every_line_printed_before_the_handler_returned(lambda_client: Any) -> None:
    for _ in range(20):
        response = lambda_client.invoke(FunctionName="Chatty", Payload=b"{}", LogType="Tail")
        tail = base64.b64decode(response["LogResult"]).decode()
        assert "line 58\nline 59\nEND RequestId: " in tail, tail[-300:]


def test_a_body_that_is_not_json_is_lambdas_invalid_request_content(lambda_client: Any, emulator: LambdaEmulator) -> None:
    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName="Echo", Payload=b"{not json")
    assert raised.value.response["Error"]["Code"] == "InvalidRequestContentException"
    url = urlsplit(emulator.endpoint_url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    connection.request("PUT", "/2015-03-31/functions/Echo/configuration", body=b"[1,")
    reply = connection.getresponse()
    assert (reply.status, reply.getheader("x-amzn-ErrorType")) == (400, "InvalidRequestContentException")


def test_an_unknown_function_is_resource_not_found(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName="Nope", Payload=b"{}")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_concurrent_invocations_run_in_parallel_sandboxes_and_stay_warm(lambda_client: Any, emulator: LambdaEmulator) -> None:
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: invoke(lambda_client, "Sleepy"), range(4)))  # cold: one sandbox each
        runs = list(pool.map(lambda _: invoke(lambda_client, "Sleepy")[1], range(4)))
    # all four were sleeping at one moment (the sandboxes share the wall clock), however busy the machine
    assert max(r["started"] for r in runs) < min(r["ended"] for r in runs), "four 300 ms invocations must overlap"
    assert len({r["pid"] for r in runs}) == 4
    assert emulator.pools["Sleepy"].cold_starts == 4  # the second round reused warm sandboxes


def test_update_function_configuration_gives_new_sandboxes_the_new_environment(lambda_client: Any) -> None:
    assert invoke(lambda_client, "Echo")[1]["greeting"] == "hi"
    updated = lambda_client.update_function_configuration(FunctionName="Echo", Environment={"Variables": {"GREETING": "bonjour"}})
    assert updated["Environment"]["Variables"] == {"GREETING": "bonjour"}
    assert invoke(lambda_client, "Echo")[1]["greeting"] == "bonjour"
    assert lambda_client.get_function_configuration(FunctionName="Echo")["Environment"]["Variables"] == {"GREETING": "bonjour"}
    lambda_client.update_function_configuration(FunctionName="Echo", Environment={"Variables": {"GREETING": "hi"}})


def test_the_runtime_api_answers_next_with_lambdas_headers() -> None:
    api = RuntimeApi().start()
    try:
        invocation = Invocation(payload=b'{"a": 1}', deadline_ms=1_800_000_000_000, function_arn="arn:aws:lambda:x")
        api.submit(invocation)
        host, port = api.address.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        connection.request("GET", "/2018-06-01/runtime/invocation/next")
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b'{"a": 1}')
        assert response.getheader("Content-Type") == "application/json"
        assert response.getheader("Lambda-Runtime-Aws-Request-Id") == invocation.request_id
        assert response.getheader("Lambda-Runtime-Deadline-Ms") == "1800000000000"
        assert response.getheader("Lambda-Runtime-Invoked-Function-Arn") == "arn:aws:lambda:x"
        assert response.getheader("Lambda-Runtime-Trace-Id", "").startswith("Root=1-")
        connection.request("POST", f"/2018-06-01/runtime/invocation/{invocation.request_id}/response", body=b'"done"')
        accepted = connection.getresponse()
        assert (accepted.status, bool(accepted.read())) == (202, True)
        assert invocation.done.wait(1) and invocation.result == b'"done"'
        connection.request("POST", "/2018-06-01/runtime/invocation/not-a-request/response", body=b"{}")
        assert connection.getresponse().status == 400
    finally:
        api.stop()


def test_the_runtime_waits_on_next_until_an_invocation_comes() -> None:
    api = RuntimeApi().start()
    try:
        answered: list[int] = []

        def poll() -> None:
            host, port = api.address.split(":")
            connection = http.client.HTTPConnection(host, int(port), timeout=5)
            connection.request("GET", "/2018-06-01/runtime/invocation/next")
            answered.append(connection.getresponse().status)

        poller = threading.Thread(target=poll)
        poller.start()
        time.sleep(0.3)
        assert answered == [] and api.ready.is_set()
        api.submit(Invocation(payload=b"{}", deadline_ms=0, function_arn="arn"))
        poller.join(2)
        assert answered == [200]
    finally:
        api.stop()
