"""claimflow.testing, the kit workflow authors test with, on the seed's workflows and the
M2M example: real handlers, moto as SSM, a loopback third party."""

from __future__ import annotations

from claimflow_local.testing import WorkflowKit
from tests.support import EVENTS, FUNCTIONS

SEED_A = FUNCTIONS / "add_third_party_data_to_access_token" / "app.py"
SEED_ENV = FUNCTIONS / "add_third_party_data_using_envs" / "app.py"
M2M = FUNCTIONS / "map_client_to_organization" / "app.py"


def test_a_third_party_answer_becomes_the_claim(workflow_kit: WorkflowKit) -> None:
    workflow_kit.http.answer("GET", "/api/user/kp_1", json={"lifetime_subscriber": True})
    result = workflow_kit.run(SEED_A, user_id="kp_1")
    assert result.outcome == "ok"
    assert result.claims("access_token") == {"lifetime_subscriber": True}


def test_secret_env_variables_reach_the_third_party_as_the_workflow_sends_them(workflow_kit: WorkflowKit) -> None:
    workflow_kit.env(API_KEY=workflow_kit.secret("kit-secret-1234"))
    workflow_kit.http.answer("GET", "/api/user/kp_1", json={"lifetime_subscriber": False})
    result = workflow_kit.run(SEED_ENV, user_id="kp_1")
    assert result.claims() == {"lifetime_subscriber": False}
    assert workflow_kit.http.requests[-1].headers["Authorization"] == "Bearer kit-secret-1234"


def test_a_workflows_own_variable_and_a_missing_one(workflow_kit: WorkflowKit) -> None:
    result = workflow_kit.run(SEED_ENV, user_id="kp_1")
    assert (result.outcome, result.claims()) == ("ok", {})  # the seed returns early without API_KEY
    assert workflow_kit.http.requests == []
    workflow_kit.env(workflow="addThirdPartyDataUsingEnvs", API_KEY="own-key-5678")
    workflow_kit.http.answer("GET", "/api/user/kp_1", json={"lifetime_subscriber": True})
    assert workflow_kit.run(SEED_ENV, user_id="kp_1").claims() == {"lifetime_subscriber": True}


def test_a_third_party_failure_is_reported_as_the_issuer_would_see_it(workflow_kit: WorkflowKit) -> None:
    workflow_kit.http.answer("GET", "/api/user/kp_1", status=500, json={"error": "down"})
    result = workflow_kit.run(SEED_A, user_id="kp_1")
    assert result.outcome == "failed"
    assert result.error is not None and result.error["type"] == "FetchStatusError"


def test_a_sample_from_events_runs_as_is(workflow_kit: WorkflowKit) -> None:
    workflow_kit.http.answer("GET", "/api/clients/m2m_3c9e2a7f41d8", json={"org_code": "org_7"})
    result = workflow_kit.run(M2M, event=EVENTS / "workflow.mapClientToOrganization.json")
    assert result.claims("m2m_token") == {"org_code": "org_7"}
    assert workflow_kit.run(M2M).outcome == "denied"  # the minimal event's client is unknown to the stub
