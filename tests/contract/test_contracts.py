"""Every sample in events/ and every reply claimflow produces validates against its JSON
Schema, checked with jsonschema (a different validator from the one the Lambdas use)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from claimflow import EventView, WorkflowSettings, access_token_custom_claims, create_handler, deny_access
from claimflow.issuer.app import handle
from claimflow.wire.contracts import SCHEMAS, schema_path
from tests.support import EVENTS, SEED_WORKFLOWS, load_workflow, sample
from tests.unit.fakes import invocation, services
from tests.unit.issuing import failing, issuer_with, patching, reply

SCHEMA_FOR_PREFIX = {"workflow.": "workflow-invocation-request.v1", "issuer.": "token-request.v1"}


def check(schema_name: str, document: Any) -> None:
    schema = json.loads(schema_path(schema_name).read_text())
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(document)


@pytest.mark.parametrize("name", SCHEMAS)
def test_each_schema_is_valid_draft_7(name: str) -> None:
    jsonschema.Draft7Validator.check_schema(json.loads(schema_path(name).read_text()))


@pytest.mark.parametrize("path", sorted(EVENTS.glob("*.json")), ids=lambda p: p.name)
def test_every_sample_event_validates_against_its_contract(path: Path) -> None:
    document = json.loads(path.read_text())
    schema = next((s for prefix, s in SCHEMA_FOR_PREFIX.items() if path.name.startswith(prefix)), None)
    if path.name.startswith("jwks."):  # Function URL events (payload format 2.0) for the JWKS function
        assert document["version"] == "2.0" and document["rawPath"].startswith("/.well-known/")
        return
    if path.name.startswith("hooks."):  # claims-hook calls at the issuer's URL (payload format 2.0)
        assert document["version"] == "2.0" and document["rawPath"].startswith("/hooks/")
        assert json.loads(document["body"])
        return
    if path.name.startswith("cognito."):  # Cognito Pre Token Generation events (V2_0, V3_0)
        assert document["version"] in ("2", "3") and document["triggerSource"].startswith("TokenGeneration_")
        return
    if path.name.startswith("rotation."):  # EventBridge Scheduler's call: the rotation function reads nothing from it
        assert document == {}
        return
    assert schema is not None, f"{path.name}: name it workflow.*, issuer.*, jwks.*, hooks.*, cognito.* or rotation.*"
    check(schema, document)


def _workflow_replies() -> list[dict[str, Any]]:
    replies = []
    for workflow_id, directory in SEED_WORKFLOWS.items():
        module = load_workflow(directory)
        handler = create_handler(module.workflow_settings, module.fetch_third_party_data_workflow, services=services())
        replies.append(handler(sample(f"workflow.{workflow_id}.json"), None))
    settings = WorkflowSettings(id="wf", trigger="user:tokens_generation", bindings={"kinde.auth": {}, "kinde.accessToken": {}})

    def denying(event: EventView) -> None:
        deny_access("nope")

    def raising(event: EventView) -> None:
        access_token_custom_claims()["x"] = 1
        raise KeyError("missing")

    for function in (denying, raising):
        replies.append(create_handler(settings, function, services=services())(invocation("wf"), None))
    replies.append(create_handler(settings, denying, services=services())({"not": "a request"}, None))
    return replies


def test_every_kind_of_workflow_reply_validates() -> None:
    replies = _workflow_replies()
    assert sorted({r["outcome"] for r in replies}) == ["denied", "failed", "ok"]
    for document in replies:
        check("workflow-invocation-reply.v1", document)


@pytest.mark.parametrize(
    "workflows",
    [
        [],
        [("a", patching("a", {"x": 1}), "stop")],
        [("a", failing("a"), "stop")],
        [("a", failing("a"), "continue")],
        [("a", lambda p, c: reply("a", "denied", reason="no"), "stop")],
    ],
)
def test_every_kind_of_token_reply_validates(workflows: list[Any]) -> None:
    check("token-reply.v1", handle(issuer_with(workflows), sample("issuer.user-token.json")))
    check("token-reply.v1", handle(issuer_with(workflows), {"contract": "nope"}))
