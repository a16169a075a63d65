"""Functional tier: the real adapters against embedded servers on 127.0.0.1 (moto's server
as SSM, the third-party stand-in over real HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from claimflow.environment import SsmPaths
from claimflow.infra.ssm import SsmParameterStore
from claimflow_local.stack.ssm import EmbeddedSsm
from claimflow_local.stack.third_party import StubThirdPartyApi

USER_ID = "kp_6a0713b9e5d14c3e9a2f0c4d8b7e1f21"
SECRET = "functional-secret-4c1e9b7a"
PATHS = SsmPaths(stage="ft")


@pytest.fixture(scope="session")
def embedded_ssm() -> Iterator[EmbeddedSsm]:
    server = EmbeddedSsm().start()
    yield server
    server.stop()


@pytest.fixture
def ssm(embedded_ssm: EmbeddedSsm) -> Any:
    requests.post(f"{embedded_ssm.url}/moto-api/reset", timeout=5).raise_for_status()
    return embedded_ssm.client()


@pytest.fixture
def ssm_store(ssm: Any) -> SsmParameterStore:
    return SsmParameterStore(client=ssm, max_age=60)


@pytest.fixture
def third_party() -> Iterator[StubThirdPartyApi]:
    stub = StubThirdPartyApi(api_key=SECRET, subscribers=[USER_ID]).start()
    yield stub
    stub.stop()


@pytest.fixture
def api_base(third_party: StubThirdPartyApi, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the seed workflows at the stand-in, as the template's ThirdPartyApiUrl does."""
    monkeypatch.setenv("API_BASE_URL", third_party.url)
    return third_party.url
