"""Recording where the workflow runs, and replaying from a recording: a recorded run returns
every fetch's answer and the names (never the values) of the variables it read, redacted in
every encoding; an unrecorded run returns nothing more than before; a replay answers from the
recording alone and names what the recording lacks."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, given, settings

from claimflow import WorkflowSettings, access_token_custom_claims, create_handler, fetch, get_environment_variable
from claimflow.infra.http_client import HttpRequest, HttpResponse, StubHttpClient
from claimflow.infra.parameters import InMemoryParameterStore
from claimflow.runtime import WorkflowServices
from tests.support import load_workflow
from tests.unit.fakes import API, SECRET, USER_ID, invocation, services
from tests.unit.issuing import PATHS
from tests.unit.test_secret_encodings import forms_of, secret_strings

USER_URL = f"{API}/api/user/{USER_ID}"


def seed_handler(directory: str = "add_third_party_data_using_envs", **options: Any) -> tuple[Any, WorkflowServices]:
    module = load_workflow(directory)
    svc = services(**options)
    return create_handler(module.workflow_settings, module.fetch_third_party_data_workflow, services=svc), svc


def recorded(workflow_id: str = "addThirdPartyDataUsingEnvs", **changes: Any) -> dict[str, Any]:
    return invocation(workflow_id, record=True, **changes)


def test_a_recorded_run_returns_each_fetchs_answer_and_the_names_of_the_variables_it_read() -> None:
    handler, _ = seed_handler()
    reply = handler(recorded(), None)
    recording = reply["recording"]
    [exchange] = recording["fetches"]
    assert exchange["request"]["method"] == "GET" and exchange["request"]["url"] == USER_URL
    assert exchange["response"] == {"status": 200, "headers": {}, "body": '{"lifetime_subscriber": true}', "encoding": "utf-8"}
    assert recording["env"] == [{"name": "API_KEY", "set": True, "secret": True}]
    assert exchange["request"]["headers"]["Authorization"] == "Bearer ••••"
    assert recording["claims_set"] == [{"token": "access_token", "name": "lifetime_subscriber", "after_fetches": 1}]
    assert recording["version"] == "$LATEST" and len(recording["code_sha256"]) == 64
    assert SECRET not in json.dumps(reply)


def test_without_the_flag_the_reply_carries_no_recording() -> None:
    handler, _ = seed_handler()
    reply = handler(invocation("addThirdPartyDataUsingEnvs"), None)
    assert reply["outcome"] == "ok" and "recording" not in reply


def test_the_run_logs_its_fetches_and_version_whether_recorded_or_not(capsys: pytest.CaptureFixture[str]) -> None:
    handler, _ = seed_handler()
    handler(invocation("addThirdPartyDataUsingEnvs", correlation_id="c-42"), None)
    line = json.loads(next(line for line in capsys.readouterr().out.splitlines() if "workflow finished" in line))
    assert line["correlation_id"] == "c-42" and line["function_version"] == "$LATEST"
    assert line["fetches"] == [{"method": "GET", "url": USER_URL, "status": 200}]


def test_a_credential_the_registry_does_not_know_is_blanked_in_the_recording() -> None:
    settings_ = WorkflowSettings(id="typed", trigger="user:tokens_generation", bindings={"kinde.fetch": {}, "url": {}})

    def workflow(event: Any) -> None:
        fetch(USER_URL, headers={"Authorization": "Bearer typed-into-the-code-91a", "X-Trace": "t-1"})

    reply = create_handler(settings_, workflow, services=services())(recorded("typed"), None)
    headers = reply["recording"]["fetches"][0]["request"]["headers"]
    assert headers == {"Authorization": "••••", "X-Trace": "t-1"}


def echoing(request: HttpRequest) -> HttpResponse:
    """A third party that echoes what it was sent, secret included: the worst case for a recording."""
    echo = {"url": request.url, "headers": dict(request.headers), "body": (request.body or b"").decode()}
    return HttpResponse(200, {"Set-Cookie": f"s={request.headers.get('X-Key', '')}"}, json.dumps(echo).encode())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=secret_strings)
def test_no_form_of_a_secret_is_in_a_recording_even_when_the_third_party_echoes_it(secret: str) -> None:
    settings_ = WorkflowSettings(
        id="leaky", trigger="user:tokens_generation", bindings={"kinde.env": {}, "kinde.fetch": {}, "url": {}}
    )

    def workflow(event: Any) -> None:
        key = get_environment_variable("API_KEY").value  # type: ignore[union-attr]
        fetch(
            f"{API}/u/{quote(key, safe='')}?k={quote_plus(key)}",
            method="POST",
            headers={"Authorization": f"Bearer {key}", "X-Key": key},
            body={"key": key},
        )

    svc = WorkflowServices(
        paths=PATHS,
        _parameters=InMemoryParameterStore({f"{PATHS.shared_env}/API_KEY": (secret, True)}),
        _http=StubHttpClient({("POST", f"{API}/u/{quote(secret, safe='')}?k={quote_plus(secret)}"): echoing}),
    )
    reply = create_handler(settings_, workflow, services=svc)(recorded("leaky"), None)
    assert reply["outcome"] == "ok", reply
    text = json.dumps(reply, ensure_ascii=False) + json.dumps(reply)
    leaked = [form for form in forms_of(secret) if form in text]
    assert not leaked, leaked


# --- replay --------------------------------------------------------------------------------


def replay_of(reply: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The invocation ``claimflow replay`` sends for a recorded reply."""
    recording = reply["recording"]
    env = {read["name"]: {"set": read["set"], "secret": read["secret"]} for read in recording["env"]}
    return recorded(replay={"fetches": copy.deepcopy(recording["fetches"]), "env": env}, **changes)


def test_a_replay_answers_every_fetch_from_the_recording_and_reaches_nothing_else() -> None:
    handler, _ = seed_handler()
    original = handler(recorded(), None)
    offline, svc = seed_handler(routes={}, parameters={}, local_mode=True)  # no third party, no variables
    reply = offline(replay_of(original), None)
    assert reply["outcome"] == "ok"
    assert reply["patches"] == original["patches"]
    assert svc.http.requests == []  # type: ignore[attr-defined]
    assert reply["recording"]["fetches"][0]["request"] == original["recording"]["fetches"][0]["request"]
    assert "misses" not in reply["recording"]


def test_a_fetch_the_recording_lacks_is_a_miss_that_names_it() -> None:
    handler, _ = seed_handler()
    original = handler(recorded(), None)
    other_user = recorded()
    other_user["event"]["context"]["user"]["id"] = "kp_someone_else"
    offline, _ = seed_handler(routes={}, parameters={}, local_mode=True)
    reply = offline(replay_of(original, event=other_user["event"]), None)
    assert reply["outcome"] == "failed" and reply["error"]["type"] == "RecordingMissError"
    assert reply["recording"]["misses"] == [f"fetch GET {API}/api/user/kp_someone_else"]
    assert USER_URL in reply["error"]["message"]  # what the recording does hold


def test_a_variable_the_recording_did_not_read_is_a_miss() -> None:
    handler, _ = seed_handler()
    original = handler(recorded(), None)
    replay = replay_of(original)
    replay["replay"]["env"] = {}
    offline, _ = seed_handler(routes={}, parameters={}, local_mode=True)
    reply = offline(replay, None)
    assert "environment variable API_KEY" in reply["recording"]["misses"]


def test_a_replay_outside_local_mode_is_refused() -> None:
    handler, _ = seed_handler()
    original = handler(recorded(), None)
    deployed, _ = seed_handler(local_mode=False)
    reply = deployed(replay_of(original), None)
    assert reply["outcome"] == "failed" and "only in local mode" in reply["error"]["message"]


def test_a_replayed_workflow_that_changed_its_rule_gives_its_new_claims() -> None:
    handler, _ = seed_handler()
    original = handler(recorded(), None)
    settings_ = load_workflow("add_third_party_data_using_envs").workflow_settings

    def stricter(event: Any) -> None:
        key = get_environment_variable("API_KEY")
        data = fetch(f"{API}/api/user/{event.context.user.id}", headers={"Authorization": f"Bearer {key.value}"}).data  # type: ignore[union-attr]
        access_token_custom_claims().lifetime_subscriber = data.get("lifetime_subscriber") is True and False

    changed = create_handler(settings_, stricter, services=services(routes={}, parameters={}, local_mode=True))
    reply = changed(replay_of(original), None)
    assert reply["patches"]["access_token"]["set"] == {"lifetime_subscriber": False}
    assert reply["recording"]["code_sha256"] != ""
