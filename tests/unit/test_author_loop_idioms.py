"""What authors carry over from TypeScript, and errors that say where (issue 25 §4, §7):
fetches awaited together run at once; every value the seed's API returns can be awaited; an
exception in workflow code is reported with its file and line, in the reply, the log and the
issuer's report; local mode widens a url allowlist by local/settings.json's hosts only."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest

from claimflow import (
    EventView,
    WorkflowSettings,
    access_token_custom_claims,
    create_handler,
    deny_access,
    fetch,
    get_environment_variable,
    secure_fetch,
)
from claimflow.infra.http_client import HttpRequest, HttpResponse
from claimflow.issuer import WorkflowFailedError
from tests.unit.fakes import API, invocation, services
from tests.unit.issuing import issuer_with, user_request

USER = "user:tokens_generation"
ALL = {"kinde.accessToken": {}, "kinde.fetch": {}, "kinde.secureFetch": {}, "kinde.env": {}, "kinde.auth": {}, "url": {}}
KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # base64 of 32 bytes


def run(function: Any, *, bindings: dict[str, Any] | None = None, **service_options: Any) -> dict[str, Any]:
    settings = WorkflowSettings(id="loop", trigger=USER, bindings=bindings or ALL)
    reply: dict[str, Any] = create_handler(settings, function, services=services(**service_options))(invocation("loop"), None)
    return reply


def _meeting(parties: int, answers: dict[str, bytes]) -> tuple[dict[tuple[str, str], Any], list[float]]:
    """Routes that answer only once ``parties`` requests are in flight together (a barrier):
    fetches run one after another never get there, and fail."""
    barrier = threading.Barrier(parties, timeout=5)
    waited: list[float] = []

    def answer(request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        barrier.wait()
        time.sleep(0.2)  # each takes 200 ms once all are in
        waited.append(time.perf_counter() - started)
        return HttpResponse(200, {}, answers[request.url])

    return {("GET", url): answer for url in answers}, waited


def test_fetches_awaited_together_with_gather_run_at_once() -> None:
    urls = {f"{API}/plan": b'{"plan": "pro"}', f"{API}/seats": b'{"seats": 5}'}
    routes, _ = _meeting(2, urls)
    took: list[float] = []

    async def workflow(event: EventView) -> None:
        started = time.perf_counter()
        plan, seats = await asyncio.gather(
            fetch(f"{API}/plan", {"method": "GET", "responseFormat": "json"}),
            fetch(f"{API}/seats", {"method": "GET", "responseFormat": "json"}),
        )
        took.append(time.perf_counter() - started)
        claims = access_token_custom_claims()
        claims.plan, claims.seats = plan["data"]["plan"], seats.data["seats"]

    reply = run(workflow, routes=routes)
    assert reply["outcome"] == "ok", reply["error"]
    assert reply["patches"]["access_token"]["set"] == {"plan": "pro", "seats": 5}
    assert took[0] < 0.2 * 2  # the slowest (200 ms), not the sum: they met at the barrier


def test_a_fetch_read_without_await_in_an_async_workflow_still_waits_for_its_answer() -> None:
    async def workflow(event: EventView) -> None:
        result = fetch(f"{API}/api/user/kp_6a0713b9e5d14c3e9a2f0c4d8b7e1f21")
        access_token_custom_claims().lifetime_subscriber = result.data["lifetime_subscriber"]

    reply = run(workflow)
    assert reply["patches"]["access_token"]["set"] == {"lifetime_subscriber": True}


def test_a_failed_fetch_in_flight_raises_where_it_is_awaited() -> None:
    async def workflow(event: EventView) -> None:
        pending = fetch("https://127.0.0.1/x")  # refused: loopback, outside local mode
        await pending

    reply = run(workflow)
    assert reply["error"]["type"] == "EgressDeniedError"
    assert reply["error"]["location"] == f"test_author_loop_idioms.py:{workflow.__code__.co_firstlineno + 2}"


def test_every_value_the_seeds_api_returns_can_be_awaited() -> None:
    routes = {("POST", f"{API}/secure"): HttpResponse(200, {}, b'{"ok": true}')}
    parameters = {"/claimflow/test/env/API_KEY": ("k-1", True), "/claimflow/test/workflows/loop/secure-fetch-key": (KEY, True)}
    seen: dict[str, Any] = {}

    async def workflow(event: EventView) -> None:
        claims = await access_token_custom_claims()
        variable = await get_environment_variable("API_KEY")
        secured = await secure_fetch(f"{API}/secure", {"body": {"a": 1}})
        claims.secured = secured["data"]["ok"]
        seen["variable"] = variable
        await deny_access("the seed's `await denyAccess(...)`")

    reply = run(workflow, routes=routes, parameters=parameters)
    assert (reply["outcome"], reply["reason"]) == ("denied", "the seed's `await denyAccess(...)`")
    assert seen["variable"].value == "k-1" and seen["variable"].is_secret


def test_awaiting_an_unset_variable_says_why_python_cannot() -> None:
    async def workflow(event: EventView) -> None:
        await get_environment_variable("NOT_SET")  # type: ignore[misc]

    reply = run(workflow, parameters={})
    assert reply["error"]["type"] == "TypeError"
    assert "get_environment_variable for a variable that is not set, cannot be awaited in Python" in reply["error"]["message"]


def test_an_exception_in_workflow_code_names_its_file_and_line_in_the_reply_and_the_log(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAIMFLOW_SOURCE_DIR", "functions/add_org_plan")  # as local stacks set it

    def workflow(event: EventView) -> None:
        plan = None
        access_token_custom_claims().org_plan = plan["name"]  # type: ignore[index]

    reply = run(workflow)
    line = workflow.__code__.co_firstlineno + 2
    assert reply["error"] == {
        "type": "TypeError",
        "code": "server_error",
        "message": "'NoneType' object is not subscriptable",
        "location": f"functions/add_org_plan/test_author_loop_idioms.py:{line}",
    }
    logged = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert logged["error_location"] == reply["error"]["location"]
    assert 'plan["name"]' in logged["traceback"] and f"line {line}, in workflow" in logged["traceback"]


def test_the_traceback_in_the_log_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    def workflow(event: EventView) -> None:
        key = get_environment_variable("API_KEY")
        assert key is not None
        raise ValueError(f"the partner refused {key.value}")

    reply = run(workflow, parameters={"/claimflow/test/env/API_KEY": ("s3cr3t-partner-key", True)})
    out = capsys.readouterr().out
    assert "s3cr3t-partner-key" not in out and "s3cr3t-partner-key" not in json.dumps(reply)
    assert "traceback" in json.loads(out.strip().splitlines()[-1])


def test_the_issuers_report_line_carries_the_failing_workflows_location() -> None:
    error = {"type": "TypeError", "code": "server_error", "message": "boom", "location": "functions/x/app.py:23"}
    failing = {"contract": "claimflow.workflow-invocation/v1", "workflow_id": "x", "outcome": "failed", "patches": {}}

    def handler(payload: dict[str, Any], context: Any) -> dict[str, Any]:
        return {**failing, "error": error, "duration_ms": 1.0}

    issuer = issuer_with([("x", handler, "stop")])
    with pytest.raises(WorkflowFailedError) as failed:
        issuer.issue(user_request())
    assert failed.value.report[0]["error"] == "TypeError: boom at functions/x/app.py:23"


ALLOWLISTED = {"kinde.accessToken": {}, "kinde.fetch": {}, "url": {"allowedHosts": ["api.billing.example"]}}


@pytest.mark.parametrize(
    ("url", "local_hosts", "allowed"),
    [
        ("http://127.0.0.1:4004/api/plan", (), True),  # the stand-in, always, in local mode
        ("http://dev-billing.internal/api/plan", ("dev-billing.internal",), True),  # listed in local/settings.json
        ("http://dev-billing.internal/api/plan", (), False),
        ("http://other.internal/api/plan", ("dev-billing.internal",), False),
    ],
)
def test_local_mode_widens_an_allowlist_by_loopback_and_the_listed_hosts_only(
    url: str, local_hosts: tuple[str, ...], allowed: bool
) -> None:
    routes = {("GET", url): HttpResponse(200, {}, b'{"plan": "pro"}')}

    def workflow(event: EventView) -> None:
        access_token_custom_claims().plan = fetch(url).data["plan"]

    svc = services(routes=routes, local_mode=True)
    svc.local_allowed_hosts = local_hosts
    settings = WorkflowSettings(id="loop", trigger=USER, bindings=ALLOWLISTED)
    reply = create_handler(settings, workflow, services=svc)(invocation("loop"), None)
    assert (reply["outcome"] == "ok") is allowed, reply["error"]
    if not allowed:
        assert "is not in the url binding's allowedHosts" in reply["error"]["message"]


def test_outside_local_mode_the_listed_hosts_widen_nothing() -> None:
    svc = services(routes={}, local_mode=False)
    svc.local_allowed_hosts = ("dev-billing.internal",)
    settings = WorkflowSettings(id="loop", trigger=USER, bindings=ALLOWLISTED)
    reply = create_handler(settings, lambda e: fetch("https://dev-billing.internal/x"), services=svc)(invocation("loop"), None)
    assert "is not in the url binding's allowedHosts" in reply["error"]["message"]


def test_a_seed_name_imported_from_claimflow_names_claimflow_kinde() -> None:
    with pytest.raises(ImportError, match=r"are in claimflow.kinde \(from claimflow.kinde import accessTokenCustomClaims\)"):
        from claimflow import accessTokenCustomClaims  # type: ignore[attr-defined]  # noqa: F401
