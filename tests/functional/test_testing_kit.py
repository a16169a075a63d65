"""claimflow.testing, the kit workflow authors test with, on the seed's workflows (ported in
snake_case under functions/ and in the seed's camelCase under examples/) and the M2M example:
real handlers, moto as SSM, a loopback third party; and fetch as deployed, outside local mode."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from claimflow_local.testing import WorkflowKit
from tests.support import EVENTS, FUNCTIONS, ROOT

CAMEL = ROOT / "examples" / "tutorial_camel_case"
FIRST = [FUNCTIONS / "add_third_party_data_to_access_token" / "app.py", CAMEL / "add_third_party_data_to_access_token.py"]
WITH_ENVS = [FUNCTIONS / "add_third_party_data_using_envs" / "app.py", CAMEL / "add_third_party_data_using_envs.py"]
SPELLINGS = ["snake_case", "camelCase"]
M2M = FUNCTIONS / "map_client_to_organization" / "app.py"


@pytest.mark.parametrize("module", FIRST, ids=SPELLINGS)
def test_a_third_party_answer_becomes_the_claim(workflow_kit: WorkflowKit, module: Path) -> None:
    workflow_kit.http.answer("GET", "/api/user/kp_1", json={"lifetime_subscriber": True})
    result = workflow_kit.run(module, user_id="kp_1")
    assert result.outcome == "ok"
    assert result.claims("access_token") == {"lifetime_subscriber": True}
    assert workflow_kit.http.requests[-1].headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("module", WITH_ENVS, ids=SPELLINGS)
def test_secret_env_variables_reach_the_third_party_as_the_workflow_sends_them(workflow_kit: WorkflowKit, module: Path) -> None:
    workflow_kit.env(API_KEY=workflow_kit.secret("kit-secret-1234"))
    workflow_kit.http.answer("GET", "/api/user/kp_1", json={"lifetime_subscriber": False})
    result = workflow_kit.run(module, user_id="kp_1")
    assert result.claims() == {"lifetime_subscriber": False}
    assert workflow_kit.http.requests[-1].headers["Authorization"] == "Bearer kit-secret-1234"


@pytest.mark.parametrize("module", WITH_ENVS, ids=SPELLINGS)
def test_a_workflows_own_variable_and_a_missing_one(
    workflow_kit: WorkflowKit, module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = workflow_kit.run(module, user_id="kp_1")
    assert (result.outcome, result.claims()) == ("ok", {})  # the seed returns early without API_KEY
    assert "API_KEY environment variable is not set" in capsys.readouterr().out
    assert workflow_kit.http.requests == []
    workflow_kit.env(workflow="addThirdPartyDataUsingEnvs", API_KEY="own-key-5678")
    workflow_kit.http.answer("GET", "/api/user/kp_1", json={"lifetime_subscriber": True})
    assert workflow_kit.run(module, user_id="kp_1").claims() == {"lifetime_subscriber": True}


@pytest.mark.parametrize("module", FIRST + WITH_ENVS, ids=[f"{n}-{s}" for n in ("first", "envs") for s in SPELLINGS])
def test_a_third_party_404_is_no_such_record(workflow_kit: WorkflowKit, module: Path) -> None:
    workflow_kit.env(API_KEY="k")
    workflow_kit.http.answer("GET", "/api/user/kp_1", status=404, json={"error": "no such user"})
    result = workflow_kit.run(module, user_id="kp_1")
    assert (result.outcome, result.claims()) == ("ok", {"lifetime_subscriber": False})
    assert [e["status"] for e in result.fetch_errors] == [404]


@pytest.mark.parametrize("status", [401, 500])
@pytest.mark.parametrize("module", FIRST + WITH_ENVS, ids=[f"{n}-{s}" for n in ("first", "envs") for s in SPELLINGS])
def test_any_other_error_status_fails_the_workflow_instead_of_claiming_false(
    workflow_kit: WorkflowKit, module: Path, status: int
) -> None:
    # The seed's fetch would return this {data}; `userData.lifetime_subscriber || false` would make a subscriber false.
    workflow_kit.env(API_KEY="k")
    workflow_kit.http.answer("GET", "/api/user/kp_1", status=status, json={"error": "refused"})
    result = workflow_kit.run(module, user_id="kp_1")
    assert result.outcome == "failed" and result.error is not None and result.error["type"] == "FetchStatusError"
    assert result.claims() == {}


@pytest.mark.parametrize("module", FIRST, ids=SPELLINGS)
def test_a_third_party_that_is_down_fails_as_the_issuer_would_see_it(workflow_kit: WorkflowKit, module: Path) -> None:
    workflow_kit.http.stop()  # nothing listens any more: a transport failure, not a status
    result = workflow_kit.run(module, user_id="kp_1")
    assert result.outcome == "failed"
    assert result.error is not None and result.error["type"] == "FetchError"


def test_a_sample_from_events_runs_as_is(workflow_kit: WorkflowKit) -> None:
    workflow_kit.http.answer("GET", "/api/clients/m2m_3c9e2a7f41d8", json={"org_code": "org_7"})
    result = workflow_kit.run(M2M, event=EVENTS / "workflow.mapClientToOrganization.json")
    assert result.claims("m2m_token") == {"org_code": "org_7"}
    assert workflow_kit.run(M2M).outcome == "denied"  # the minimal event's client is unknown to the stub


ALLOWLISTED = """
    import os

    from claimflow import WorkflowSettings, WorkflowTrigger, access_token_custom_claims, create_handler, fetch

    workflow_settings = WorkflowSettings(
        id="partnerLookup",
        trigger=WorkflowTrigger.UserTokenGeneration,
        bindings={"kinde.accessToken": {}, "kinde.fetch": {}, "url": {"allowedHosts": ["api.partner.example"]}},
    )


    def lookup(event):
        access_token_custom_claims().plan = fetch(os.environ["PARTNER_URL"]).data["plan"]


    lambda_handler = create_handler(workflow_settings, lookup)
"""


@pytest.fixture
def partner_workflow(tmp_path: Path) -> Path:
    module = tmp_path / "partner.py"
    module.write_text(textwrap.dedent(ALLOWLISTED))
    return module


@pytest.mark.parametrize(
    ("url", "resolve", "refusal", "looked_up"),
    [
        ("https://evil.example/plan", {}, "is not in the url binding's allowedHosts", []),
        ("https://api.partner.example/plan", {"api.partner.example": "10.0.0.7"}, "private", ["api.partner.example"]),
        ("https://api.partner.example/plan", {"api.partner.example": "169.254.169.254"}, "metadata", ["api.partner.example"]),
        (
            "https://api.partner.example/plan",
            {"api.partner.example": ["93.184.215.14", "127.0.0.1"]},
            "loopback",
            ["api.partner.example"],
        ),
        ("http://api.partner.example/plan", {}, "https", []),
    ],
    ids=["not-allowlisted", "rebinds-to-private", "rebinds-to-metadata", "one-of-many-is-loopback", "plain-http"],
)
def test_outside_local_mode_the_allowlist_and_the_address_guard_refuse(
    workflow_kit: WorkflowKit,
    partner_workflow: Path,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    resolve: dict[str, object],
    refusal: str,
    looked_up: list[str],
) -> None:
    monkeypatch.setenv("PARTNER_URL", url)
    result = workflow_kit.run(partner_workflow, local_mode=False, resolve=resolve)  # type: ignore[arg-type]
    assert result.outcome == "failed" and result.error is not None
    assert result.error["type"] == "EgressDeniedError"
    assert refusal in result.error["message"]
    assert workflow_kit.lookups == looked_up  # a refused name is never even resolved
    assert workflow_kit.http.requests == []


def test_in_local_mode_the_same_workflow_reaches_the_loopback_stub(
    workflow_kit: WorkflowKit, partner_workflow: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow_kit.http.answer("GET", "/plan", json={"plan": "gold"})
    monkeypatch.setenv("PARTNER_URL", workflow_kit.http.url.replace("127.0.0.1", "api.partner.example") + "/plan")
    result = workflow_kit.run(partner_workflow, resolve={"api.partner.example": "127.0.0.1"})
    assert result.claims() == {"plan": "gold"}
    assert workflow_kit.lookups == ["api.partner.example"]
