"""The deployed side of recordings, against moto's server on 127.0.0.1: the issuer's recorder
writes each sampled login to S3 with SSE-KMS over signed HTTP (no boto3), ``claimflow
recordings pull`` downloads a window of them, and ``claimflow explain --stage`` answers from
the lines the issuer and the workflows log, through CloudWatch Logs Insights.

moto checks no signature (tests/unit/test_s3_sink.py compares ours with botocore's) and runs
no query filter (it returns every event in the groups): explain re-checks every row itself,
which the noise lines below prove."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from claimflow import create_handler
from claimflow.infra.secrets import container_secrets
from claimflow.infra.sigv4 import Credentials
from claimflow.issuer.app import handle
from claimflow.record.recorder import Recorder
from claimflow.record.s3_sink import S3RecordingSink
from claimflow_local.cli import main as cli
from claimflow_local.stack.ssm import EmbeddedSsm
from tests.support import load_workflow
from tests.unit.fakes import SECRET, services
from tests.unit.issuing import issuer_with, user_request

BUCKET = "claimflow-ft-recordings"
SEED = [
    ("addThirdPartyDataToAccessToken", "add_third_party_data_to_access_token"),
    ("addThirdPartyDataUsingEnvs", "add_third_party_data_using_envs"),
]
GROUPS = {
    "issuer": "/aws/lambda/claimflow-ft-issuer",
    "addThirdPartyDataToAccessToken": "/aws/lambda/claimflow-ft-add-third-party-data-to-access-token",
    "addThirdPartyDataUsingEnvs": "/aws/lambda/claimflow-ft-add-third-party-data-using-envs",
}


def project(root: Path) -> Path:
    """``root`` as a project folder the CLI accepts for --root (one that holds a template.yaml)."""
    if not (root / "template.yaml").exists():
        (root / "template.yaml").write_text("# a claimflow project\n")
    return root


@pytest.fixture
def aws(embedded_ssm: EmbeddedSsm, monkeypatch: pytest.MonkeyPatch) -> EmbeddedSsm:
    """moto, empty, and boto3 pointed at it (as a user's AWS_ENDPOINT_URL would)."""
    requests.post(f"{embedded_ssm.url}/moto-api/reset", timeout=5).raise_for_status()
    for name, value in {
        "AWS_ENDPOINT_URL": embedded_ssm.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    return embedded_ssm


def seed_issuer(recorder: Recorder | None = None) -> Any:
    handlers = []
    for workflow_id, directory in SEED:
        module = load_workflow(directory)
        handlers.append(
            (
                workflow_id,
                create_handler(module.workflow_settings, module.fetch_third_party_data_workflow, services=services()),
                "stop",
            )
        )
    issuer = issuer_with(handlers)
    issuer.recorder = recorder
    return issuer


def s3_recorder(aws: EmbeddedSsm) -> tuple[Recorder, str]:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    key = aws.client("kms").create_key(Description="ft recordings")["KeyMetadata"]["Arn"]
    sink = S3RecordingSink(
        bucket=BUCKET,
        prefix="recordings/ft/",
        kms_key=key,
        endpoint=aws.url,
        region_name="us-east-1",
        credentials=Credentials("testing", "testing"),
    )
    return Recorder(sink, sample_rate=1.0, stage="ft", secrets=container_secrets()), key


def test_sampled_logins_land_in_the_stages_prefix_encrypted_under_its_key(aws: EmbeddedSsm) -> None:
    recorder, key = s3_recorder(aws)
    issuer = seed_issuer(recorder)
    jtis = {handle(issuer, user_request(correlation_id=f"c-{i}"))["access_token"] for i in range(3)}
    assert recorder.writer.flush(10) and recorder.writer.written == 3
    s3 = aws.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert len(keys) == 3 and all(k.startswith("recordings/ft/") and k.endswith(".json") for k in keys)
    stored = s3.get_object(Bucket=BUCKET, Key=keys[0])
    assert (stored["ServerSideEncryption"], stored["SSEKMSKeyId"]) == ("aws:kms", key)
    body = stored["Body"].read().decode()
    assert json.loads(body)["contract"] == "claimflow.recording/v1" and SECRET not in body
    assert len(jtis) == 3


def test_recordings_pull_downloads_a_window_and_not_twice(
    aws: EmbeddedSsm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    aws.client("ssm").put_parameter(Name="/claimflow/ft/recordings/bucket", Value=BUCKET, Type="String")
    s3 = aws.client("s3")
    for stamp in ("2026-11-30T08-00-00.000000Z", "2026-12-01T09-30-00.000000Z", "2026-12-01T10-00-00.000000Z"):
        s3.put_object(Bucket=BUCKET, Key=f"recordings/ft/{stamp}-ab.json", Body=b'{"contract":"claimflow.recording/v1"}')
    s3.put_object(Bucket=BUCKET, Key="recordings/other/2026-12-01T10-00-00.000000Z-cd.json", Body=b"{}")  # another stage's
    to = tmp_path / "pulled"
    argv = [
        "--root",
        str(project(tmp_path)),
        "recordings",
        "pull",
        "--stage",
        "ft",
        "--since",
        "2026-12-01T09:00",
        "--to",
        str(to),
    ]
    assert cli(argv) == 0
    assert sorted(p.name for p in to.iterdir()) == ["2026-12-01T09-30-00.000000Z-ab.json", "2026-12-01T10-00-00.000000Z-ab.json"]
    assert "pulled 2 recording(s) of stage ft made since 2026-12-01 09:00 UTC" in capsys.readouterr().out
    assert cli(argv) == 0
    again = capsys.readouterr().out
    assert "pulled 0 recording(s)" in again and "(2 already there)" in again


def test_a_stage_that_records_nothing_says_so(aws: EmbeddedSsm, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["--root", str(project(tmp_path)), "recordings", "pull", "--stage", "ft"]) == 2
    assert "stage ft records nothing" in capsys.readouterr().err


def logged_lines(capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], list[str]]:
    """One login through the in-process issuer; the token reply and the JSON lines its loggers printed."""
    capsys.readouterr()
    issuer = seed_issuer()
    issuer._clock = time.time  # CloudWatch (and moto) refuse log events from the future
    reply = handle(issuer, user_request(correlation_id="prov-1"))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return reply, lines


def put_lines(aws: EmbeddedSsm, lines: list[str], *, at: float) -> None:
    """The lines as Lambda's JSON log format leaves them: one event each, at ``at`` (epoch s)."""
    logs = aws.client("logs")
    for group in GROUPS.values():
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="2026/12/02/[7]abc")
    now = int(at * 1000)
    by_group: dict[str, list[str]] = {g: [] for g in GROUPS.values()}
    for line in lines:
        service = json.loads(line).get("service")
        group = GROUPS["issuer"] if service == "claimflow-issuer" else GROUPS.get(str(service))
        if group is not None:
            by_group[group].append(line)
    # noise a query filter would drop: another token's lines, and a line that is not JSON
    other = json.dumps({"message": "token issued", "correlation_id": "prov-2", "jti": {"access_token": "ffff"}, "set_by": {}})
    by_group[GROUPS["issuer"]] += [other, "START RequestId: 1 Version: 7"]
    by_group[GROUPS["addThirdPartyDataUsingEnvs"]].append(
        json.dumps(
            {
                "message": "workflow finished",
                "correlation_id": "prov-2",
                "workflow_id": "addThirdPartyDataUsingEnvs",
                "function_version": "6",
                "fetches": [],
            }
        )
    )
    for group, messages in by_group.items():
        events = [{"timestamp": now + i, "message": message} for i, message in enumerate(messages)]
        logs.put_log_events(logGroupName=group, logStreamName="2026/12/02/[7]abc", logEvents=events)


def test_explain_for_a_stage_answers_from_its_logs(aws: EmbeddedSsm, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reply, lines = logged_lines(capsys)
    assert any('"message":"token issued"' in line for line in lines)
    token = reply["access_token"]
    put_lines(aws, lines, at=json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["iat"])  # issued then
    assert cli(["--root", str(project(tmp_path)), "explain", token, "--stage", "ft"]) == 0
    out = capsys.readouterr().out.splitlines()
    jti = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["jti"]
    assert out[0] == f"access_token jti {jti}  (logs /aws/lambda/claimflow-ft-issuer, correlation prov-1, stage ft)"
    assert out[1:] == [
        "  lifetime_subscriber = true",
        "    ← addThirdPartyDataUsingEnvs @$LATEST",
        "    ← GET https://my-website.com/api/user/kp_6a0713b9e5d14c3e9a2f0c4d8b7e1f21 → 200   (the fetch its workflow made)",
    ]


def test_explain_for_a_stage_names_what_it_searched_when_the_token_is_not_there(
    aws: EmbeddedSsm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, lines = logged_lines(capsys)
    put_lines(aws, lines, at=time.time())
    assert cli(["--root", str(project(tmp_path)), "explain", "0123abcd", "--stage", "ft", "--since", "1h"]) == 2
    assert "no 'token issued' line with jti 0123abcd in /aws/lambda/claimflow-ft-issuer" in capsys.readouterr().err
