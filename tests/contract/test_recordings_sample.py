"""The checked-in recordings (``events/recordings``, the CI gate's sample) follow the recording
contract, checked with jsonschema (not the validator claimflow uses), and hold no secret of the
local settings in any form."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from claimflow.wire.contracts import schema_path
from claimflow_local.stack.ssm import load_settings
from tests.support import EVENTS, ROOT
from tests.unit.test_secret_encodings import forms_of

SAMPLE = sorted((EVENTS / "recordings").glob("*.json"))


def test_the_sample_is_small_and_covers_both_triggers_and_a_denial() -> None:
    documents = [json.loads(p.read_text()) for p in SAMPLE]
    assert 5 <= len(documents) <= 20 and sum(p.stat().st_size for p in SAMPLE) < 64_000
    assert {d["trigger"] for d in documents} == {"user:tokens_generation", "m2m:token_generation"}
    assert {d["outcome"] for d in documents} == {"issued", "denied"}


@pytest.mark.parametrize("path", SAMPLE, ids=lambda p: p.name)
def test_each_recording_follows_the_contract_and_holds_no_secret(path: Path) -> None:
    jsonschema.Draft7Validator(json.loads(schema_path("recording.v1").read_text())).validate(json.loads(path.read_text()))
    settings = load_settings(ROOT / "local" / "settings.json")
    secrets = [
        v["value"]
        for scope in (settings["env"]["shared"], *settings["env"]["workflows"].values())
        for v in scope.values()
        if v["secret"]
    ]
    text = path.read_text()
    assert secrets and not [form for secret in secrets for form in forms_of(secret) if form in text]
