"""The JSON Schemas name exactly what the tables say: each token kind (``TOKENS``), each
trigger, each outcome. A new token kind added to the table and not to the contracts fails here."""

from __future__ import annotations

import json
from typing import Any

from claimflow.tokens import TOKENS
from claimflow.triggers import WorkflowTrigger
from claimflow.wire.contracts import Outcome, schema_path

TOKEN_KINDS = {kind.value for kind in TOKENS}
TRIGGERS = {trigger.value for trigger in WorkflowTrigger}


def schema(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(schema_path(name).read_text())
    return document


def test_token_requests_carry_claims_for_exactly_the_token_kinds_and_name_exactly_the_triggers() -> None:
    request = schema("token-request.v1")
    assert set(request["properties"]["claims"]["properties"]) == TOKEN_KINDS
    assert set(request["properties"]["trigger"]["enum"]) == TRIGGERS


def test_workflow_invocations_carry_exactly_the_token_kinds_and_triggers() -> None:
    invocation = schema("workflow-invocation-request.v1")
    assert set(invocation["properties"]["tokens"]["properties"]) == TOKEN_KINDS
    assert set(invocation["properties"]["trigger"]["enum"]) == TRIGGERS


def test_workflow_replies_patch_exactly_the_token_kinds_with_exactly_the_outcomes() -> None:
    reply = schema("workflow-invocation-reply.v1")
    assert set(reply["properties"]["patches"]["properties"]) == TOKEN_KINDS
    assert set(reply["properties"]["outcome"]["enum"]) == {outcome.value for outcome in Outcome}


def test_token_replies_carry_each_kinds_reply_field_and_report_exactly_the_outcomes() -> None:
    issued, refused = schema("token-reply.v1")["oneOf"]
    token_fields = {"access_token", "id_token"} & set(issued["properties"])
    assert token_fields == {spec.reply_field for spec in TOKENS.values()}
    for branch in (issued, refused):
        assert set(branch["properties"]["workflows"]["items"]["properties"]["outcome"]["enum"]) == {o.value for o in Outcome}
