"""Your own API, locally: the routes of local/third_party.yaml, served over real HTTP by the
stand-in (make dev, make demo, preview) and by the testing kit; a request no route answers is
a 404 naming the file; a mistake in the file is one line naming the route and the field."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from claimflow_local.stack.third_party import ROUTES_FILE, RoutesError, RouteTable, StubThirdPartyApi
from claimflow_local.testing import WorkflowKit
from tests.support import ROOT

BILLING = """
    routes:
      - method: GET
        path: /billing/{account}/plan
        when: {headers: {X-Api-Key: k-123}}
        json: {account: "{account}", plan: pro, seats: 5}
        headers: {X-Served-By: "stand-in {account}"}
      - method: GET
        path: /billing/{account}/plan
        status: 401
        json: {error: bad key}
      - method: POST
        path: /billing/{account}/usage
        status: 202
        text: "queued for {account}"
        delay_ms: 300
"""


def _routes(tmp_path: Path, text: str) -> RouteTable:
    path = tmp_path / "third_party.yaml"
    path.write_text(textwrap.dedent(text))
    return RouteTable.load(path)


@pytest.fixture
def billing(tmp_path: Path) -> Iterator[str]:
    stub = StubThirdPartyApi(routes=_routes(tmp_path, BILLING)).start()
    yield stub.url
    stub.stop()


def test_a_declared_route_answers_with_its_status_body_headers_and_the_matched_segments(billing: str) -> None:
    answer = requests.get(f"{billing}/billing/acme/plan", headers={"X-Api-Key": "k-123"}, timeout=5)
    assert (answer.status_code, answer.json()) == (200, {"account": "acme", "plan": "pro", "seats": 5})
    assert answer.headers["X-Served-By"] == "stand-in acme"
    refused = requests.get(f"{billing}/billing/acme/plan", headers={"X-Api-Key": "wrong"}, timeout=5)
    assert (refused.status_code, refused.json()) == (401, {"error": "bad key"})


def test_a_text_answer_keeps_its_status_and_its_delay(billing: str) -> None:
    started = time.perf_counter()
    answer = requests.post(f"{billing}/billing/acme/usage", json={"n": 1}, timeout=5)
    assert time.perf_counter() - started >= 0.3
    assert (answer.status_code, answer.text) == (202, "queued for acme")
    assert answer.headers["Content-Type"].startswith("text/plain")


def test_an_unknown_route_is_a_404_that_names_the_file_to_add_it_to(billing: str) -> None:
    answer = requests.get(f"{billing}/billing/acme/invoices?page=2", timeout=5)
    assert answer.status_code == 404
    body = answer.json()
    assert body["error"] == "no_route"
    assert (
        f"GET /billing/acme/invoices is not a route of the local third-party stand-in: add it to {ROUTES_FILE}"
        in (body["error_description"])
    )
    assert body["routes"] == ["GET /billing/{account}/plan", "GET /billing/{account}/plan", "POST /billing/{account}/usage"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("routes:\n  - {path: api/x}", "route 1: path 'api/x' must start with /"),
        ("routes:\n  - {path: /x, status: 99}", "route 1: status 99 must be an HTTP status from 100 to 599"),
        ("routes:\n  - {path: /x}\n  - {path: /y, jsn: {}}", "route 2: unknown field 'jsn'"),
        ("routes:\n  - {path: /x, method: FETCH}", "route 1: method 'FETCH'"),
        ("routes:\n  - {path: /x, json: {}, text: a}", "route 1: give the body once"),
        ("route:\n  - {path: /x}", "unknown key 'route'"),
    ],
)
def test_a_mistake_in_the_file_names_the_route_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RoutesError, match="^local/third_party.yaml") as refused:
        _routes(tmp_path, text)
    assert message in str(refused.value)


def test_the_shipped_file_answers_the_tutorials_two_routes() -> None:
    stub = StubThirdPartyApi(routes=RouteTable.load(ROOT / ROUTES_FILE)).start()
    try:
        subscriber = "kp_6a0713b9e5d14c3e9a2f0c4d8b7e1f21"
        assert requests.get(f"{stub.url}/api/user/{subscriber}", timeout=5).json()["lifetime_subscriber"] is True
        other = f"{stub.url}/api/user/kp_other"
        keyed = requests.get(other, headers={"Authorization": "Bearer demo-api-key-7f3a9c2e51b4"}, timeout=5)
        assert keyed.json() == {"id": "kp_other", "lifetime_subscriber": False}
        assert requests.get(other, headers={"Authorization": "Bearer nope"}, timeout=5).status_code == 401
        assert requests.get(f"{stub.url}/api/clients/m2m_3c9e2a7f41d8", timeout=5).json()["org_code"] == "org_b5a9c8d7e6f5"
        assert requests.get(f"{stub.url}/api/clients/m2m_other", timeout=5).status_code == 404
    finally:
        stub.stop()


PLAN_WORKFLOW = """
    import os

    from claimflow import WorkflowSettings, WorkflowTrigger, access_token_custom_claims, create_handler, fetch

    workflow_settings = WorkflowSettings(
        id="addOrgPlan",
        trigger=WorkflowTrigger.UserTokenGeneration,
        bindings={"kinde.accessToken": {}, "kinde.fetch": {}, "url": {}},
    )


    def add_org_plan(event):
        access_token_custom_claims().org_plan = fetch(f"{os.environ['API_BASE_URL']}/api/user/{event.context.user.id}").data


    lambda_handler = create_handler(workflow_settings, add_org_plan)
"""


def test_the_kit_serves_the_projects_routes_where_the_test_answers_nothing(workflow_kit: WorkflowKit, tmp_path: Path) -> None:
    module = tmp_path / "plan.py"
    module.write_text(textwrap.dedent(PLAN_WORKFLOW))
    result = workflow_kit.run(module, user_id="kp_6a0713b9e5d14c3e9a2f0c4d8b7e1f21")  # this project's local/third_party.yaml
    assert result.claims() == {"org_plan": {"id": "kp_6a0713b9e5d14c3e9a2f0c4d8b7e1f21", "lifetime_subscriber": True}}
    workflow_kit.http.answer("GET", "/api/user/kp_1", json={"plan": "team"})  # the test's own answer wins
    assert workflow_kit.run(module, user_id="kp_1").claims() == {"org_plan": {"plan": "team"}}
    workflow_kit.http.routes = RouteTable(())  # none: every unanswered request is told where to add it
    body = workflow_kit.run(module, user_id="kp_2").claims()["org_plan"]
    assert "add it to local/third_party.yaml" in body["error_description"]
    assert "workflow_kit.http.answer('GET', '/api/user/kp_2', json=...)" in body["error_description"]
