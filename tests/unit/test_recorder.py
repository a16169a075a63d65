"""The issuer's side: a sampled token request becomes one recording (what each workflow was
given, saw and did; the tokens' custom claims), written off the login path and never at a
login's expense; an unsampled one asks the workflows for nothing more. And what reads
recordings: the per-claim diff, and which workflow, version and fetch each claim came from."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import jsonschema
import pytest

from claimflow import create_handler
from claimflow.infra.lambda_api import InvokeReply
from claimflow.infra.secrets import container_secrets
from claimflow.issuer.app import handle
from claimflow.issuer.lambda_workflow_invoker import LambdaWorkflowInvoker
from claimflow.record.diff import ClaimChange, diff_claims
from claimflow.record.provenance import attribute_fetch, explain_recording, find_token, version_label, writers
from claimflow.record.recorder import Recorder
from claimflow.record.sinks import InMemorySink
from claimflow.wire.contracts import schema_path
from tests.support import load_workflow
from tests.unit.fakes import SECRET, services
from tests.unit.issuing import issuer_with, patching, user_request

SEED = [
    ("addThirdPartyDataToAccessToken", "add_third_party_data_to_access_token"),
    ("addThirdPartyDataUsingEnvs", "add_third_party_data_using_envs"),
]


def seed_issuer(*, rate: float = 1.0, sink: Any = None, seen: list[dict[str, Any]] | None = None, **options: Any) -> Any:
    handlers = []
    for workflow_id, directory in SEED:
        module = load_workflow(directory)
        handler = create_handler(module.workflow_settings, module.fetch_third_party_data_workflow, services=services())

        def spy(payload: dict[str, Any], context: Any, handler: Any = handler) -> Any:
            if seen is not None:
                seen.append(payload)
            return handler(payload, context)

        handlers.append((workflow_id, spy, "stop"))
    issuer = issuer_with(handlers)
    issuer.recorder = Recorder(sink or InMemorySink(), sample_rate=rate, stage="test", secrets=container_secrets(), **options)
    return issuer


def only_recording(issuer: Any) -> dict[str, Any]:
    assert issuer.recorder.writer.flush(10)
    [body] = issuer.recorder.writer.sink.recordings.values()
    document: dict[str, Any] = json.loads(body)
    return document


def test_a_sampled_login_becomes_one_recording_of_what_each_workflow_saw_and_did() -> None:
    issuer = seed_issuer()
    issued = issuer.issue(user_request())
    recording = only_recording(issuer)
    jsonschema.Draft7Validator(json.loads(schema_path("recording.v1").read_text())).validate(recording)
    assert recording["outcome"] == "issued" and recording["correlation_id"] == "demo-0001"
    assert recording["tokens"]["access_token"]["jti"] == issued.claims["access_token"]["jti"]
    assert recording["tokens"]["access_token"]["custom"] == {"lifetime_subscriber": True}
    assert [w["id"] for w in recording["workflows"]] == [wid for wid, _ in SEED]
    with_env = recording["workflows"][1]
    assert with_env["env"] == [{"name": "API_KEY", "set": True, "secret": True}]
    assert with_env["fetches"][0]["response"]["body"] == '{"lifetime_subscriber": true}'
    assert recording["invocation"]["event"]["context"]["user"]["id"] == user_request()["subject"]
    assert SECRET not in json.dumps(recording)


def test_an_unsampled_login_asks_the_workflows_for_nothing_more_and_writes_nothing() -> None:
    seen: list[dict[str, Any]] = []
    issuer = seed_issuer(rate=0.0, seen=seen)
    issuer.issue(user_request())
    assert seen and all("record" not in payload for payload in seen)
    assert issuer.recorder.writer.sink.recordings == {}


def test_the_sample_rate_is_the_share_of_logins_recorded() -> None:
    draws = iter([0.05, 0.5, 0.09, 0.99])
    issuer = seed_issuer(rate=0.1, draw=lambda: next(draws))
    for _ in range(4):
        issuer.issue(user_request())
    assert issuer.recorder.writer.flush(10)
    assert len(issuer.recorder.writer.sink.recordings) == 2


def test_a_denied_login_is_recorded_with_its_reason() -> None:
    from claimflow import WorkflowSettings, deny_access

    settings_ = WorkflowSettings(id="gate", trigger="user:tokens_generation", bindings={"kinde.auth": {}})
    handler = create_handler(settings_, lambda event: deny_access("suspended"), services=services())
    issuer = issuer_with([("gate", handler, "stop")])
    issuer.recorder = Recorder(InMemorySink(), sample_rate=1.0, stage="test", secrets=container_secrets())
    reply = handle(issuer, user_request())
    assert reply["error"] == "access_denied"
    recording = only_recording(issuer)
    assert recording["outcome"] == "denied" and recording["tokens"] == {}
    assert recording["workflows"][0]["reason"] == "suspended"


class BlockedSink:
    def __init__(self) -> None:
        self.gate = threading.Event()
        self.recordings: dict[str, bytes] = {}

    def write(self, name: str, body: bytes) -> None:
        self.gate.wait(10)
        self.recordings[name] = body


def test_a_stuck_sink_drops_samples_and_never_holds_up_a_login() -> None:
    sink = BlockedSink()
    issuer = seed_issuer(sink=sink, max_pending=2)
    for _ in range(5):
        assert "access_token" in handle(issuer, user_request())  # each issued while the sink is stuck
    assert issuer.recorder.writer.dropped >= 2
    sink.gate.set()
    assert issuer.recorder.writer.flush(10)
    assert 1 <= len(sink.recordings) <= 3


def test_pending_recordings_are_written_while_the_issuer_waits_on_the_next_logins_workflows() -> None:
    sink = InMemorySink()
    written_during_the_wait: list[int] = []

    def slow(payload: dict[str, Any], context: Any) -> dict[str, Any]:
        time.sleep(0.3)  # the issuer's thread waits here; the recorder's works
        written_during_the_wait.append(len(sink.recordings))
        return patching("slow", {"x": 1})(payload, context)

    issuer = issuer_with([("slow", slow, "stop")])
    issuer.recorder = Recorder(sink, sample_rate=1.0, stage="test", secrets=container_secrets(), max_delay=60)
    issuer.issue(user_request())
    time.sleep(0.2)
    assert sink.recordings == {}  # not while the issuer was answering, nor after: it waits for the next wait
    issuer.issue(user_request())
    assert written_during_the_wait == [0, 1]
    assert issuer.recorder.writer.flush(10) and len(sink.recordings) == 2


class FailingSink:
    def write(self, name: str, body: bytes) -> None:
        from claimflow.record import RecordingWriteError

        raise RecordingWriteError("AccessDenied (403)")


def test_a_sink_that_fails_is_counted_and_logins_go_on() -> None:
    issuer = seed_issuer(sink=FailingSink())
    assert "access_token" in handle(issuer, user_request())
    assert issuer.recorder.writer.flush(10)
    assert issuer.recorder.writer.failed == 1


def test_the_issuers_log_line_names_each_tokens_jti_and_who_set_each_claim(capsys: pytest.CaptureFixture[str]) -> None:
    issuer = issuer_with([("a", patching("a", {"plan": "free", "x": 1}), "stop"), ("b", patching("b", {"plan": "gold"}), "stop")])
    reply = handle(issuer, user_request(correlation_id="c-7"))
    line = json.loads(next(line for line in capsys.readouterr().out.splitlines() if '"token issued"' in line))
    assert line["correlation_id"] == "c-7"
    assert (
        line["jti"]["access_token"]
        == json.loads(__import__("base64").urlsafe_b64decode(reply["access_token"].split(".")[1] + "=="))["jti"]
    )
    assert line["set_by"] == {"access_token": {"plan": "b", "x": "a"}}


def test_a_token_request_without_a_correlation_id_gets_one_the_workflows_share() -> None:
    seen: list[dict[str, Any]] = []
    issuer = seed_issuer(seen=seen)
    request = user_request()
    del request["correlation_id"]
    issued = issuer.issue(request)
    assert issued.correlation_id and {p["correlation_id"] for p in seen} == {issued.correlation_id}


class StubInvokeClient:
    def invoke(self, function: str, payload: Any, *, deadline: float) -> InvokeReply:
        reply = {"outcome": "ok", "recording": {"version": "$LATEST", "fetches": []}}
        return InvokeReply(json.dumps(reply).encode(), None, "7")


def test_a_deployed_recording_names_the_version_lambda_says_ran() -> None:
    invoker = LambdaWorkflowInvoker(client=StubInvokeClient())  # type: ignore[arg-type]
    assert invoker.invoke("wf", "fn:live", {}, timeout=1)["recording"]["version"] == "7"


# --- reading recordings: diff and provenance ------------------------------------------------


def test_the_diff_names_each_claim_added_removed_and_changed_and_tells_true_from_1() -> None:
    old = {"access_token": {"a": True, "b": 1, "c": "x"}}
    new = {"access_token": {"a": 1, "c": "x", "d": [1]}}
    assert diff_claims(old, new) == [
        ClaimChange("access_token", "a", "changed", True, 1),
        ClaimChange("access_token", "b", "removed", old=1),
        ClaimChange("access_token", "d", "added", new=[1]),
    ]
    assert [str(c) for c in diff_claims(old, new)] == ["~ a: true → 1", "- b (was 1)", "+ d = [1]"]
    assert diff_claims(old, old) == []


def test_the_writer_of_a_claim_is_the_last_whose_value_the_token_carries() -> None:
    patches = {"a": {"access_token": {"plan": "free", "x": 1}}, "b": {"access_token": {"plan": "gold"}}}
    assert writers(patches, {"access_token": {"plan": "gold", "x": 1}}) == {"access_token": {"plan": "b", "x": "a"}}


def exchange(url: str, body: Any) -> dict[str, Any]:
    return {
        "request": {"method": "GET", "url": url, "headers": {}, "body": None, "encoding": "utf-8"},
        "response": {"status": 200, "headers": {}, "body": json.dumps(body), "encoding": "utf-8"},
    }


def test_a_claim_comes_from_the_fetch_before_it_whose_answer_names_it() -> None:
    workflow = {
        "fetches": [
            exchange("https://a/plan", {"plan": "gold"}),
            exchange("https://a/other", {"n": 2}),
            exchange("https://a/late", {"plan": "x"}),
        ],
        "claims_set": [
            {"token": "access_token", "name": "plan", "after_fetches": 2},
            {"token": "access_token", "name": "n2", "after_fetches": 2},
        ],
    }
    named = attribute_fetch(workflow, "access_token", "plan", "gold")
    assert named is not None and (named.url, named.why) == ("https://a/plan", "its answer names plan")
    by_value = attribute_fetch(workflow, "access_token", "n2", 2)
    assert by_value is not None and (by_value.url, by_value.why) == ("https://a/other", "its answer holds the value")
    workflow["claims_set"].append({"token": "access_token", "name": "early", "after_fetches": 0})
    assert attribute_fetch(workflow, "access_token", "early", True) is None


def test_explaining_a_recorded_token_names_workflow_version_and_fetch() -> None:
    issuer = seed_issuer()
    issued = issuer.issue(user_request())
    recording = only_recording(issuer)
    jti = issued.claims["access_token"]["jti"]
    assert find_token(recording, jti) == "access_token" and find_token(recording, "nope") is None
    [origin] = explain_recording(recording, "access_token")
    assert (origin.claim, origin.value, origin.workflow) == ("lifetime_subscriber", True, "addThirdPartyDataUsingEnvs")
    assert origin.overridden == ("addThirdPartyDataToAccessToken",)
    assert origin.version.startswith("@$LATEST (code:")
    assert (
        origin.fetch is not None
        and origin.fetch.status == 200
        and origin.fetch.url.endswith("/api/user/kp_6a0713b9e5d14c3e9a2f0c4d8b7e1f21")
    )
    assert version_label("7", "ab" * 32) == "@7 (code:abababababab)"
