"""An error status must not look like a valid claim. The shipped workflows read a 404 as "no such
record" and fail on any other error status; an author's workflow keeps the seed's semantics (the
status is data), and every fetch that answered an error status is reported beside its outcome:
in the workflow's reply, the issuer's report line, and an EMF count per workflow."""

from __future__ import annotations

import json
from typing import Any

import pytest

from claimflow import EventView, WorkflowSettings, access_token_custom_claims, create_handler, fetch, get_environment_variable
from claimflow.issuer.app import _record_metrics, handle
from claimflow.wire.contracts import validate
from tests.support import SEED_WORKFLOWS, load_workflow
from tests.unit.fakes import API, SECRET, USER_ID, invocation, services
from tests.unit.issuing import issuer_with, user_request

USER_URL = f"{API}/api/user/{USER_ID}"
#: What a third party answers when it refuses: a JSON body without the claim, read as false by the seed's idiom.
REFUSALS = {401: b'{"error":"bad api key"}', 500: b'{"error":"internal","lifetime_subscriber":null}', 503: b"{}"}


def run_shipped(directory: str, status: int, body: bytes) -> dict[str, Any]:
    module = load_workflow(directory)
    svc = services(routes={("GET", USER_URL): _answer(status, body)})
    handler = create_handler(module.workflow_settings, module.fetch_third_party_data_workflow, services=svc)
    workflow_id = module.workflow_settings.id
    reply: dict[str, Any] = handler(invocation(workflow_id), None)
    return reply


def _answer(status: int, body: bytes) -> Any:
    from claimflow.infra.http_client import HttpResponse

    return HttpResponse(status, {"Content-Type": "application/json"}, body)


@pytest.mark.parametrize("directory", sorted(SEED_WORKFLOWS.values()))
@pytest.mark.parametrize("status", sorted(REFUSALS))
def test_a_shipped_workflow_fails_on_an_error_status_instead_of_claiming_false(directory: str, status: int) -> None:
    reply = run_shipped(directory, status, REFUSALS[status])
    assert reply["outcome"] == "failed", reply
    assert reply["patches"] == {}
    assert reply["error"]["type"] == "FetchStatusError" and f"answered HTTP {status}" in reply["error"]["message"]
    assert reply["fetch_errors"] == [{"url": USER_URL, "status": status}]
    validate("workflow-invocation-reply.v1", reply)


@pytest.mark.parametrize("directory", sorted(SEED_WORKFLOWS.values()))
def test_a_shipped_workflow_reads_404_as_no_such_record(directory: str) -> None:
    reply = run_shipped(directory, 404, b'{"error":"no such user"}')
    assert (reply["outcome"], reply["patches"]["access_token"]["set"]) == ("ok", {"lifetime_subscriber": False})
    assert reply["fetch_errors"] == [{"url": USER_URL, "status": 404}]


def seed_style(event: EventView) -> None:
    """An author's workflow in the seed's idiom: the status is never looked at."""
    key = get_environment_variable("API_KEY")
    for _ in range(12):
        user_data = fetch(f"{USER_URL}?key={key.value if key else ''}").data
    access_token_custom_claims().lifetime_subscriber = user_data.get("lifetime_subscriber") or False


SEED_STYLE = WorkflowSettings(
    id="authorsOwn",
    trigger="user:tokens_generation",
    bindings={"kinde.accessToken": {}, "kinde.fetch": {}, "kinde.env": {}, "url": {}},
)


def test_an_authors_workflow_keeps_the_seeds_semantics_and_its_error_fetches_are_reported_redacted_and_bounded() -> None:
    svc = services(routes={("GET", f"{USER_URL}?key={SECRET}"): _answer(500, REFUSALS[500])})
    reply = create_handler(SEED_STYLE, seed_style, services=svc)(invocation("authorsOwn"), None)
    assert (reply["outcome"], reply["patches"]["access_token"]["set"]) == ("ok", {"lifetime_subscriber": False})
    assert reply["fetch_errors"] == [{"url": f"{USER_URL}?key=••••", "status": 500}] * 10  # 12 fetches, 10 reported
    assert SECRET not in json.dumps(reply)
    validate("workflow-invocation-reply.v1", reply)


def test_a_reply_without_error_fetches_carries_no_fetch_errors() -> None:
    module = load_workflow("add_third_party_data_to_access_token")
    reply = create_handler(module.workflow_settings, module.fetch_third_party_data_workflow, services=services())(
        invocation("addThirdPartyDataToAccessToken"), None
    )
    assert reply["outcome"] == "ok" and "fetch_errors" not in reply


# --- the issuer: the report line and the metric ------------------------------------------------


def replying(workflow_id: str, *, fetch_errors: Any, outcome: str = "ok") -> Any:
    def handler(payload: dict[str, Any], context: Any) -> dict[str, Any]:
        return {
            "contract": "claimflow.workflow-invocation/v1",
            "workflow_id": workflow_id,
            "outcome": outcome,
            "patches": {"access_token": {"set": {"lifetime_subscriber": False}, "reset": False}},
            "reason": None,
            "error": None,
            "duration_ms": 1.0,
            "fetch_errors": fetch_errors,
        }

    return handler


def test_the_issuers_report_line_names_each_workflows_error_fetches() -> None:
    errors = [{"url": "https://api.example.com/api/user/u1", "status": 401}]
    issuer = issuer_with(
        [("a", replying("a", fetch_errors=errors), "continue"), ("b", replying("b", fetch_errors=[]), "continue")]
    )
    answer = handle(issuer, user_request())
    validate("token-reply.v1", answer)
    report = {line["id"]: line for line in answer["workflows"]}
    assert report["a"]["outcome"] == "ok" and report["a"]["fetch_errors"] == errors
    assert "fetch_errors" not in report["b"]


def test_a_malformed_fetch_errors_list_fails_the_workflow_and_never_the_report() -> None:
    bad = [{"url": "https://x", "status": "401"}, "nonsense", {"url": "https://y", "status": 500}]
    answer = handle(issuer_with([("a", replying("a", fetch_errors=bad), "continue")]), user_request())
    validate("token-reply.v1", answer)
    (line,) = answer["workflows"]
    assert line["outcome"] == "failed" and line["fetch_errors"] == [{"url": "https://y", "status": 500}]


def test_each_workflows_error_fetches_are_counted_as_an_emf_metric(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    errors = [{"url": "https://api.example.com/a", "status": 401}, {"url": "https://api.example.com/b", "status": 500}]
    answer = handle(issuer_with([("a", replying("a", fetch_errors=errors), "continue")]), user_request())
    capsys.readouterr()
    _record_metrics(answer)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"FetchErrorStatus"' in line]
    assert len(lines) == 1
    assert lines[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "FetchErrorStatus", "Unit": "Count"}]
    assert (lines[0]["workflow"], lines[0]["FetchErrorStatus"]) == ("a", [2.0])
