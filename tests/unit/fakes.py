"""Builders for unit tests: seed-shaped invocations and services made of in-memory fakes."""

from __future__ import annotations

import copy
from typing import Any

from claimflow.environment import SsmPaths
from claimflow.infra.http_client import HttpResponse, StubHttpClient
from claimflow.infra.parameters import InMemoryParameterStore
from claimflow.runtime import WorkflowServices
from tests.support import sample

USER_ID = "kp_6a0713b9e5d14c3e9a2f0c4d8b7e1f21"
API = "https://my-website.com"
SECRET = "demo-api-key-7f3a9c2e51b4"


def invocation(workflow_id: str, **changes: Any) -> dict[str, Any]:
    request = copy.deepcopy(sample("workflow.addThirdPartyDataToAccessToken.json"))
    request["workflow_id"] = workflow_id
    request.update(changes)
    return request


def services(
    *,
    routes: dict[tuple[str, str], Any] | None = None,
    parameters: dict[str, Any] | None = None,
    local_mode: bool = False,
) -> WorkflowServices:
    default_routes = {("GET", f"{API}/api/user/{USER_ID}"): HttpResponse(200, {}, b'{"lifetime_subscriber": true}')}
    return WorkflowServices(
        local_mode=local_mode,
        paths=SsmPaths(stage="test"),
        _http=StubHttpClient(routes if routes is not None else default_routes),
        _parameters=InMemoryParameterStore(
            parameters if parameters is not None else {"/claimflow/test/env/API_KEY": (SECRET, True)}
        ),
    )
