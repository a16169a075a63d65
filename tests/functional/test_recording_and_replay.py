"""Recording and replay on the built artifacts, as a user runs them: the local stack records
every login (the issuer in its sandbox writes them, off the login path); a recording of a
login whose workflow read a secret holds no form of it; ``claimflow replay`` reruns the built
workflows on the recordings with no network and gates on the exit status (0 unchanged, 1 a
claim changed, 2 a fetch the recording lacks); ``claimflow explain`` names where a token's
claims came from; and the CI gate the docs show passes on the checked-in sample."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from claimflow.wire.contracts import schema_path
from claimflow_local.cli import main as cli
from claimflow_local.stack.deployment import LocalDeployment
from claimflow_local.stack.ssm import load_settings
from tests.support import ROOT, sample
from tests.unit.test_secret_encodings import forms_of

SECRET = load_settings(ROOT / "local" / "settings.json")["env"]["shared"]["API_KEY"]["value"]


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    return claims


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    """Three logins through the local stack (a subscriber, someone else, an M2M client), recorded."""
    folder = tmp_path_factory.mktemp("recordings")
    other = copy.deepcopy(sample("issuer.user-token.json")) | {
        "subject": "kp_0c2f9e81d4b7a6c5e3f1d2b4a6c8e0f1",
        "correlation_id": "other-0001",
    }
    requests = [sample("issuer.user-token.json"), other, sample("issuer.m2m-token.json")]
    with open(os.devnull, "w") as sink, LocalDeployment(root=ROOT, log=sink, recordings=folder) as stack:
        client = stack.issuer_client()
        responses = [client.request_tokens(request) for request in requests]
        deadline = time.monotonic() + 30
        while len(list(folder.glob("*.json"))) < len(requests) and time.monotonic() < deadline:
            time.sleep(0.05)
    return folder, responses


def test_the_local_stack_records_every_login_with_the_tokens_it_issued(recorded: tuple[Path, list[Any]]) -> None:
    folder, responses = recorded
    documents = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    schema = json.loads(schema_path("recording.v1").read_text())
    for document in documents:
        jsonschema.Draft7Validator(schema).validate(document)
    issued = {claims_of(r.access_token)["jti"] for r in responses}
    assert {d["tokens"][next(iter(d["tokens"]))]["jti"] for d in documents} == issued
    subscriber = next(d for d in documents if d["correlation_id"] == "demo-0001")
    assert subscriber["tokens"]["access_token"]["custom"] == {"lifetime_subscriber": True}
    [api] = {w["config"]["API_BASE_URL"] for d in documents for w in d["workflows"]}  # the stand-in the workflows called
    assert api.startswith("http://127.0.0.1:")


def test_a_recording_of_a_login_whose_workflow_read_a_secret_holds_no_form_of_it(recorded: tuple[Path, list[Any]]) -> None:
    folder, _ = recorded
    for path in folder.glob("*.json"):
        text = path.read_text()
        assert not [form for form in forms_of(SECRET) if form in text], path.name
    document = next(json.loads(p.read_text()) for p in folder.glob("*.json") if "addThirdPartyDataUsingEnvs" in p.read_text())
    workflow = next(w for w in document["workflows"] if w["id"] == "addThirdPartyDataUsingEnvs")
    assert workflow["env"] == [{"name": "API_KEY", "set": True, "secret": True}]  # its name, not its value
    assert workflow["fetches"][0]["request"]["headers"]["Authorization"] == "Bearer ••••"


def test_replaying_unchanged_workflows_changes_no_claim_and_exits_0(
    recorded: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = recorded
    assert cli(["--root", str(ROOT), "replay", str(folder), "--no-build", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"] == {"logins": 3, "changed": 0, "errors": 0}
    assert report["timing"]["per_login_ms"] < 1000  # the benchmark measures it (bench/replay.py); here it just runs


def test_a_claim_that_differs_from_what_the_workflows_now_set_exits_1_and_is_named(
    recorded: tuple[Path, list[Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = recorded
    path = next(p for p in folder.glob("*.json") if '"correlation_id":"demo-0001"' in p.read_text())
    document = json.loads(path.read_text())
    document["tokens"]["access_token"]["custom"]["lifetime_subscriber"] = False  # as if the code that ran then said so
    (tmp_path / path.name).write_text(json.dumps(document))
    assert cli(["--root", str(ROOT), "replay", str(tmp_path), "--no-build"]) == 1
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "lifetime_subscriber" in line and "→" in line)
    assert "false → true" in line and "addThirdPartyDataUsingEnvs @$LATEST (code:" in line
    assert "lifetime_subscriber (access_token): changed in 1" in out


def test_a_fetch_the_recording_lacks_is_a_replay_error_that_names_it_and_exits_2(
    recorded: tuple[Path, list[Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = recorded
    path = next(p for p in folder.glob("*.json") if '"correlation_id":"demo-0001"' in p.read_text())
    document = json.loads(path.read_text())
    workflow = next(w for w in document["workflows"] if w["id"] == "addThirdPartyDataUsingEnvs")
    workflow["fetches"][0]["request"]["url"] += "-not-what-it-fetches"
    (tmp_path / path.name).write_text(json.dumps(document))
    assert cli(["--root", str(ROOT), "replay", str(tmp_path), "--no-build"]) == 2
    out = capsys.readouterr().out
    assert re.search(
        r"error: addThirdPartyDataUsingEnvs: the recording has no answer for fetch GET http://127\.0\.0\.1:\d+/api/user/kp_", out
    )


def test_explain_names_each_claims_workflow_version_and_fetch(
    recorded: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, responses = recorded
    assert cli(["--root", str(ROOT), "explain", responses[0].access_token, "--recordings", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"access_token jti {claims_of(responses[0].access_token)['jti']}")
    assert lines[1] == "  lifetime_subscriber = true"
    assert re.fullmatch(
        r"    ← addThirdPartyDataUsingEnvs @\$LATEST \(code:[0-9a-f]{12}\)   \(also set by addThirdPartyDataToAccessToken.*",
        lines[2],
    )
    assert re.fullmatch(
        r"    ← GET http://127\.0\.0\.1:\d+/api/user/kp_6a0713b9e5d14c3e9a2f0c4d8b7e1f21 → 200"
        r"   \(its answer names lifetime_subscriber\)",
        lines[3],
    )
    m2m = claims_of(responses[2].access_token)
    assert cli(["--root", str(ROOT), "explain", m2m["jti"], "--recordings", str(folder), "--json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert [(c["claim"], c["workflow"]) for c in explained["claims"]] == [("org_code", "mapClientToOrganization")]


def test_the_ci_gate_in_the_docs_passes_on_the_checked_in_sample(capsys: pytest.CaptureFixture[str]) -> None:
    docs = (ROOT / "docs" / "recording-and-replay.md").read_text()
    [command] = re.findall(r"run: (\./claimflow replay events/recordings[^\n]*)", docs)  # the CI job's step
    argv = command.split()[1:]
    assert cli(["--root", str(ROOT), *argv]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["logins"] == len(list((ROOT / "events" / "recordings").glob("*.json"))) >= 5
    assert report["summary"]["changed"] == report["summary"]["errors"] == 0
