"""``claimflow check`` warns where a workflow reads a fetch result's data without looking at its
status, naming the file and line and the fix; the shipped workflows draw no such warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimflow_local.cli import main as cli
from claimflow_local.cli.check import check_project
from tests.functional.test_toolkit import project_copy

SEED_IDIOM = '''"""The tutorial's first workflow as the seed writes it: the status is never read."""

import os

from claimflow import EventView, WorkflowSettings, WorkflowTrigger, access_token_custom_claims, create_handler, fetch

workflow_settings = WorkflowSettings(
    id="addThirdPartyDataToAccessToken",
    name="Add third party data to access token",
    trigger=WorkflowTrigger.UserTokenGeneration,
    bindings={"kinde.accessToken": {}, "kinde.fetch": {}, "url": {}},
)


def fetch_third_party_data_workflow(event: EventView) -> None:
    access_token = access_token_custom_claims()
    user_data = fetch(f"{os.environ.get('API_BASE_URL')}/api/user/{event.context.user.id}", method="GET").data
    access_token.lifetime_subscriber = user_data.get("lifetime_subscriber") or False


lambda_handler = create_handler(workflow_settings, fetch_third_party_data_workflow)
'''


def status_warnings(warnings: list[str]) -> list[str]:
    return [w for w in warnings if "without looking at its status" in w]


def test_check_warns_where_a_workflow_reads_fetch_data_without_its_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project_copy(tmp_path)
    assert status_warnings(check_project(root).warnings) == []  # the shipped workflows look at the status
    (root / "functions" / "add_third_party_data_to_access_token" / "app.py").write_text(SEED_IDIOM)
    report = check_project(root)
    assert report.problems == []
    assert status_warnings(report.warnings) == [
        "functions/add_third_party_data_to_access_token/app.py:17: reads a fetch result's data without looking at its "
        "status: a 401 or 500 with a JSON body reads as data (a wrong claim, reported ok) — check .status (e.g. 404: no "
        "such record) or call .raise_for_status() first"
    ]
    assert cli(["--root", str(root), "check"]) == 0  # a warning, not a problem
    assert "warning: functions/add_third_party_data_to_access_token/app.py:17: reads a fetch result's data" in (
        capsys.readouterr().out
    )
