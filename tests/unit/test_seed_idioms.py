"""The seed's idioms work as they read in TypeScript: ``await fetch(url, {options})``,
``result["data"]``, ``getEnvironmentVariable(k)["value"]``, an unset claim read as undefined,
an absent optional event field, a result for every HTTP status; and ``claimflow.kinde``
spells them as the seed does. On in-memory fakes, through the real handler."""

from __future__ import annotations

from typing import Any

import pytest

import claimflow
from claimflow import (
    ClaimValueError,
    EventView,
    FetchError,
    FetchUsageError,
    WorkflowSettings,
    access_token_custom_claims,
    create_handler,
    fetch,
    get_environment_variable,
    kinde,
    secure_fetch,
)
from claimflow.bindings.fetch import decrypt_body
from claimflow.infra.http_client import HttpRequest, HttpResponse
from tests.unit.fakes import API, USER_ID, invocation, services

USER = "user:tokens_generation"
FETCHING = {"kinde.accessToken": {}, "kinde.fetch": {}, "url": {}}
USER_URL = f"{API}/api/user/{USER_ID}"


def run(
    function: Any, *, bindings: dict[str, Any] | None = None, request: dict[str, Any] | None = None, **service_options: Any
) -> dict[str, Any]:
    settings = WorkflowSettings(id="idioms", trigger=USER, bindings=bindings or FETCHING)
    handler = create_handler(settings, function, services=services(**service_options))
    reply: dict[str, Any] = handler(request or invocation("idioms"), None)
    return reply


def claims_set(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["outcome"] == "ok", reply.get("error")
    return dict(reply["patches"]["access_token"]["set"])


def test_an_async_workflow_awaits_fetch_with_the_seeds_options_object() -> None:
    async def workflow(event: EventView) -> None:
        access_token = access_token_custom_claims()
        user_data = (
            await fetch(
                f"{API}/api/user/{event.context.user.id}",
                {"method": "GET", "responseFormat": "json", "headers": {"Content-Type": "application/json"}},
            )
        )["data"]
        access_token.lifetime_subscriber = user_data.get("lifetime_subscriber") or False

    assert claims_set(run(workflow)) == {"lifetime_subscriber": True}


def test_a_plain_workflow_reads_the_same_result_by_attribute_and_by_key() -> None:
    def workflow(event: EventView) -> None:
        result = fetch(USER_URL, {"method": "GET"})
        access_token_custom_claims()["same"] = result.data == result["data"] and result.status == result["status"] == 200

    assert claims_set(run(workflow)) == {"same": True}


def test_the_options_object_sets_method_headers_body_and_text_format() -> None:
    svc_routes = {("POST", f"{API}/echo"): HttpResponse(201, {}, b"plain words")}

    def workflow(event: EventView) -> None:
        result = fetch(
            f"{API}/echo", {"method": "POST", "headers": {"X-Trace": "t1"}, "body": {"a": 1}, "responseFormat": "text"}
        )
        access_token_custom_claims().echo = [result.status, result.data]

    svc = services(routes=svc_routes)
    settings = WorkflowSettings(id="idioms", trigger=USER, bindings=FETCHING)
    reply = create_handler(settings, workflow, services=svc)(invocation("idioms"), None)
    assert claims_set(reply) == {"echo": [201, "plain words"]}
    sent: HttpRequest = svc.http.requests[0]  # type: ignore[attr-defined]
    assert (sent.method, sent.headers["X-Trace"], sent.headers["Content-Type"], sent.body) == (
        "POST",
        "t1",
        "application/json",
        b'{"a":1}',
    )


@pytest.mark.parametrize(
    ("options", "keywords", "message"),
    [
        ({"respnseFormat": "json"}, {}, "unknown option 'respnseFormat'; the options are: method, headers, body, responseFormat"),
        ({"method": "GET"}, {"method": "POST"}, "option 'method' is given both in the options and as the keyword method="),
        ("GET", {}, "the options must be a mapping such as {'method': 'GET'}, not str"),
        ({"responseFormat": "xml"}, {}, "responseFormat 'xml' refused; use 'json' or 'text'"),
        (None, {"respnse_format": "text"}, "unknown keyword respnse_format=; the keywords are: body, headers, method"),
    ],
)
def test_a_wrong_option_is_a_fetch_error_naming_it(options: Any, keywords: dict[str, Any], message: str) -> None:
    def workflow(event: EventView) -> None:
        fetch(USER_URL, options, **keywords)

    reply = run(workflow)
    # a mistake in the workflow's code: a server_error (never temporarily_unavailable), where it is
    assert (reply["outcome"], reply["error"]["type"], reply["error"]["code"]) == ("failed", "FetchUsageError", "server_error")
    assert isinstance(FetchUsageError(USER_URL, "x"), FetchError)
    assert message in reply["error"]["message"]
    assert reply["error"]["location"] == f"test_seed_idioms.py:{workflow.__code__.co_firstlineno + 1}"


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_every_status_is_a_result_the_workflow_reads(status: int) -> None:
    def workflow(event: EventView) -> None:
        result = fetch(USER_URL)
        access_token_custom_claims().seen = [result.status, result.ok, result.data]

    reply = run(workflow, routes={("GET", USER_URL): HttpResponse(status, {}, b'{"error": "nope"}')})
    assert claims_set(reply) == {"seen": [status, False, {"error": "nope"}]}


def test_an_error_page_that_is_not_json_is_returned_as_text() -> None:
    def workflow(event: EventView) -> None:
        access_token_custom_claims().page = fetch(USER_URL).data

    reply = run(workflow, routes={("GET", USER_URL): HttpResponse(502, {}, b"<html>Bad Gateway</html>")})
    assert claims_set(reply) == {"page": "<html>Bad Gateway</html>"}


@pytest.mark.parametrize(
    "call",
    [
        lambda: fetch(USER_URL, raise_for_status=True),
        lambda: fetch(USER_URL, {"raiseForStatus": True}),
        lambda: fetch(USER_URL).raise_for_status(),
    ],
)
def test_raising_on_an_error_status_is_one_opt_in_away(call: Any) -> None:
    def workflow(event: EventView) -> None:
        call()
        access_token_custom_claims().reached = True

    reply = run(workflow, routes={("GET", USER_URL): HttpResponse(503, {}, b"{}")})
    assert (reply["outcome"], reply["error"]["type"], reply["patches"]) == ("failed", "FetchStatusError", {})
    assert reply["error"]["message"] == f"fetch {USER_URL}: answered HTTP 503"


def test_a_fetch_result_has_only_the_seeds_keys_and_ours() -> None:
    result = claimflow.FetchResult({"a": 1}, 200, {}, "https://x")
    with pytest.raises(KeyError, match="a fetch result has 'data', 'status' and 'headers', not 'body'"):
        _ = result["body"]


def test_secure_fetch_takes_the_options_object_too() -> None:
    key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # base64 of 32 bytes

    async def workflow(event: EventView) -> None:
        result = await secure_fetch(f"{API}/secure", {"body": {"user": event.context.user.id}, "responseFormat": "json"})
        access_token_custom_claims().ok = result["data"]["ok"]

    svc = services(
        routes={("POST", f"{API}/secure"): HttpResponse(200, {}, b'{"ok": true}')},
        parameters={"/claimflow/test/workflows/idioms/secure-fetch-key": (key, True)},
    )
    settings = WorkflowSettings(id="idioms", trigger=USER, bindings={"kinde.accessToken": {}, "kinde.secureFetch": {}, "url": {}})
    reply = create_handler(settings, workflow, services=svc)(invocation("idioms"), None)
    assert claims_set(reply) == {"ok": True}
    sent: HttpRequest = svc.http.requests[0]  # type: ignore[attr-defined]
    import base64

    assert decrypt_body(base64.b64decode(key), (sent.body or b"").decode()) == f'{{"user":"{USER_ID}"}}'.encode()


def test_an_environment_variable_reads_with_the_seeds_keys() -> None:
    def workflow(event: EventView) -> None:
        variable = get_environment_variable("API_KEY")
        assert variable is not None
        access_token_custom_claims().shape = [variable["isSecret"], variable.isSecret, variable["value"] == variable.value]

    reply = run(workflow, bindings={"kinde.accessToken": {}, "kinde.env": {}})
    assert claims_set(reply) == {"shape": [True, True, True]}


def test_an_environment_variable_has_no_other_keys() -> None:
    with pytest.raises(KeyError, match="an environment variable has 'value' and 'isSecret', not 'secret'"):
        _ = claimflow.EnvironmentVariable("v")["secret"]


def test_an_unset_claim_reads_as_undefined_did_and_still_cannot_be_deleted() -> None:
    def workflow(event: EventView) -> None:
        access_token = access_token_custom_claims()
        access_token.was_unset = [access_token.never_set, access_token["never_set"], "never_set" in access_token]
        del access_token["was_unset"]

    reply = run(workflow, bindings={"kinde.accessToken": {}})
    assert (reply["outcome"], reply["error"]["type"]) == ("failed", ClaimValueError.__name__)

    def reader(event: EventView) -> None:
        access_token = access_token_custom_claims()
        access_token.was_unset = [access_token.never_set, access_token["never_set"], "never_set" in access_token]
        access_token.counted = access_token.setdefault("tier", "free")

    assert claims_set(run(reader, bindings={"kinde.accessToken": {}})) == {
        "was_unset": [None, None, False],
        "tier": "free",
        "counted": "free",
    }


def test_an_absent_organization_reads_as_none_in_a_running_workflow() -> None:
    def workflow(event: EventView) -> None:
        organization = event.context.organization
        access_token_custom_claims().org = organization.code if organization else None

    request = invocation("idioms")
    del request["event"]["context"]["organization"]
    assert claims_set(run(workflow, bindings={"kinde.accessToken": {}}, request=request)) == {"org": None}
    assert claims_set(run(workflow, bindings={"kinde.accessToken": {}})) == {"org": "org_b5a9c8d7e6f5"}


def test_a_misspelled_event_field_fails_the_workflow_naming_the_fields() -> None:
    def workflow(event: EventView) -> None:
        _ = event.context.usr

    reply = run(workflow, bindings={"kinde.accessToken": {}})
    assert reply["error"]["type"] == "EventFieldError"
    assert "event.context.usr is not a field of this event (event.context has: " in reply["error"]["message"]


def test_the_kinde_module_spells_the_seeds_names_over_the_same_functions() -> None:
    assert kinde.accessTokenCustomClaims is claimflow.access_token_custom_claims
    assert kinde.idTokenCustomClaims is claimflow.id_token_custom_claims
    assert kinde.m2mTokenClaims is claimflow.m2m_token_claims
    assert kinde.getEnvironmentVariable is claimflow.get_environment_variable
    assert kinde.denyAccess is claimflow.deny_access
    assert kinde.secureFetch is claimflow.secure_fetch
    assert kinde.fetch is claimflow.fetch
    assert kinde.WorkflowTrigger is claimflow.WorkflowTrigger
    assert sorted(kinde.__all__) == sorted(name for name in vars(kinde) if name in kinde.__all__)


def test_kinde_workflow_settings_take_the_seeds_failure_policy_object() -> None:
    settings = kinde.WorkflowSettings(
        id="x",
        trigger=kinde.WorkflowTrigger.UserTokenGeneration,
        failurePolicy={"action": "continue"},
        bindings={"kinde.accessToken": {}},
    )
    assert isinstance(settings, WorkflowSettings) and settings.policy.value == "continue"
    with pytest.raises(claimflow.InvalidSettingsError, match="'retry'} is not a policy; use 'stop' or 'continue'"):
        kinde.WorkflowSettings(id="x", trigger=kinde.WorkflowTrigger.UserTokenGeneration, failurePolicy={"action": "retry"})


def test_a_fetch_error_is_still_raised_for_a_success_that_is_not_json() -> None:
    def workflow(event: EventView) -> None:
        fetch(USER_URL)

    reply = run(workflow, routes={("GET", USER_URL): HttpResponse(200, {}, b"<html/>")})
    assert reply["error"]["type"] == FetchError.__name__ and "pass responseFormat 'text'" in reply["error"]["message"]
