"""The example M2M workflow on fakes: the client's organization is stamped, an unknown
client is denied, a directory outage is a failure."""

from __future__ import annotations

from typing import Any

from claimflow import create_handler
from claimflow.infra.http_client import HttpResponse
from tests.support import load_workflow, sample
from tests.unit.fakes import API, services

CLIENT = "m2m_3c9e2a7f41d8"


def run(answer: HttpResponse) -> dict[str, Any]:
    module = load_workflow("map_client_to_organization")
    svc = services(routes={("GET", f"{API}/api/clients/{CLIENT}"): answer})
    handler = create_handler(module.workflow_settings, module.map_client_to_organization, services=svc)
    reply: dict[str, Any] = handler(sample("workflow.mapClientToOrganization.json"), None)
    return reply


def test_the_clients_organization_is_stamped_on_the_m2m_token() -> None:
    reply = run(HttpResponse(200, {}, b'{"client_id": "m2m_3c9e2a7f41d8", "org_code": "org_42"}'))
    assert reply["patches"] == {"m2m_token": {"set": {"org_code": "org_42"}, "reset": False}}


def test_a_client_the_directory_does_not_know_is_denied() -> None:
    reply = run(HttpResponse(404, {}, b'{"error": "unknown client"}'))
    assert (reply["outcome"], reply["reason"]) == ("denied", f"client {CLIENT} is not registered with an organization")


def test_a_directory_outage_is_a_failure_not_a_denial() -> None:
    reply = run(HttpResponse(503, {}, b"{}"))
    assert reply["outcome"] == "failed" and "answered HTTP 503" in reply["error"]["message"]
