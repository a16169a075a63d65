"""The env binding over real boto3 and moto's SSM server."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from claimflow import EnvironmentVariable, ParameterStoreError, WorkflowSettings, create_handler, get_environment_variable
from claimflow.bindings.env import EnvironmentVariables
from claimflow.infra.secrets import SecretRegistry
from claimflow.infra.ssm import SsmParameterStore
from claimflow.runtime import WorkflowServices
from tests.functional.conftest import PATHS, SECRET
from tests.support import holding_ports, sample


def seed(ssm: Any) -> None:
    ssm.put_parameter(Name=f"{PATHS.shared_env}/API_KEY", Value=SECRET, Type="SecureString")
    ssm.put_parameter(Name=f"{PATHS.shared_env}/REGION", Value="us-east-1", Type="String")
    ssm.put_parameter(Name=f"{PATHS.workflow_env('wf')}/REGION", Value="eu-west-1", Type="String")
    ssm.put_parameter(Name=f"{PATHS.workflow_env('other')}/PRIVATE", Value="not-yours", Type="String")


def count_calls(client: Any, operation: str) -> list[int]:
    calls = [0]
    client.meta.events.register(f"before-send.ssm.{operation}", lambda **_: calls.__setitem__(0, calls[0] + 1))
    return calls


def test_string_is_plain_securestring_is_secret_and_the_workflows_own_wins(ssm: Any, ssm_store: SsmParameterStore) -> None:
    seed(ssm)
    env = EnvironmentVariables(ssm_store, PATHS, SecretRegistry())
    assert env.get("wf", "API_KEY") == EnvironmentVariable(SECRET, True)
    assert env.get("wf", "REGION") == EnvironmentVariable("eu-west-1", False)
    assert env.get("wf", "PRIVATE") is None  # another workflow's variable is not visible
    assert env.get("wf", "MISSING") is None


def test_a_thousand_warm_invocations_make_one_by_path_call_per_path(ssm: Any, ssm_store: SsmParameterStore) -> None:
    seed(ssm)
    calls = count_calls(ssm, "GetParametersByPath")
    settings = WorkflowSettings(id="wf", trigger="user:tokens_generation", bindings={"kinde.env": {}, "kinde.accessToken": {}})

    def workflow(event: Any) -> None:
        assert get_environment_variable("API_KEY") is not None

    handler = create_handler(settings, workflow, services=WorkflowServices(paths=PATHS, _parameters=ssm_store))
    request = {**sample("workflow.addThirdPartyDataToAccessToken.json"), "workflow_id": "wf"}
    for _ in range(1000):
        assert handler(request, None)["outcome"] == "ok"
    assert calls == [2]  # the workflow's own path and the stage-wide path, once each per TTL


def test_ssm_throttling_serves_the_cached_values(ssm: Any, embedded_ssm: Any) -> None:
    seed(ssm)
    ssm = embedded_ssm.client(max_attempts=1)  # no back-off retries: the point is what happens after they give up
    now = [0.0]
    store = SsmParameterStore(client=ssm, max_age=10, clock=lambda: now[0])
    env = EnvironmentVariables(store, PATHS, SecretRegistry())
    assert env.get("wf", "API_KEY") is not None

    def throttle(**_: Any) -> AWSResponse:
        body = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
        return AWSResponse("https://ssm", 400, {"x-amzn-ErrorType": "ThrottlingException"}, _Raw(body))

    ssm.meta.events.register("before-send.ssm.GetParametersByPath", throttle)
    now[0] = 60.0
    assert env.get("wf", "API_KEY") == EnvironmentVariable(SECRET, True)
    fresh = EnvironmentVariables(SsmParameterStore(client=ssm, max_age=10), PATHS, SecretRegistry())
    with pytest.raises(ParameterStoreError, match="ThrottlingException"):
        fresh.get("wf", "API_KEY")


def test_ssm_unreachable_is_a_parameter_store_error_not_a_hang() -> None:
    import time

    import boto3
    from botocore.config import Config

    with holding_ports(1, listen=False) as port:  # bound here, listening nowhere: refused, whoever else runs
        client = boto3.client(
            "ssm",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=Config(connect_timeout=0.5, retries={"max_attempts": 1}),
        )
        started = time.perf_counter()
        with pytest.raises(ParameterStoreError, match="SSM GetParametersByPath .* failed: EndpointConnectionError"):
            SsmParameterStore(client=client).get_by_path("/claimflow/ft/env")
        assert time.perf_counter() - started < 3


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any) -> bytes:
        body, self._body = self._body, b""
        return body
