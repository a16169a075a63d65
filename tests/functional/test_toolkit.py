"""The workflow author's toolkit: claimflow new, check, env and preview."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from claimflow.bindings.env import EnvironmentVariable, EnvironmentVariables
from claimflow.environment import SsmPaths
from claimflow.infra.secrets import SecretRegistry
from claimflow.infra.ssm import SsmParameterStore
from claimflow_local.cli import main as cli
from claimflow_local.cli.check import find_problems
from claimflow_local.cli.env import EnvCommandError, EnvironmentManager
from claimflow_local.cli.preview import preview, render
from claimflow_local.stack.deployment import LocalDeployment
from tests.support import ROOT, holding_ports


def project_copy(tmp_path: Path) -> Path:
    """A project like ours: template, functions and events copied, the layer linked."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(ROOT / "template.yaml", root / "template.yaml")
    shutil.copytree(ROOT / "functions", root / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "events", root / "events")
    shutil.copytree(ROOT / "local", root / "local")
    (root / "layers").symlink_to(ROOT / "layers")
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_check_passes_on_this_project() -> None:
    assert find_problems(ROOT) == []


ENV_GRANT = "                - !Sub arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/claimflow/${Stage}/env\n"
BROKEN = {
    "duplicate workflow ids": (
        "functions/map_client_to_organization/app.py",
        'id="mapClientToOrganization"',
        'id="addThirdPartyDataUsingEnvs"',
        "workflow id 'addThirdPartyDataUsingEnvs' is also used by",
    ),
    "unknown trigger": (
        "functions/map_client_to_organization/app.py",
        "trigger=WorkflowTrigger.M2MTokenGeneration",
        'trigger="user:pre_mfa"',
        "functions/map_client_to_organization/app.py: InvalidSettingsError: workflow_settings.trigger: 'user:pre_mfa'",
    ),
    "kinde.env without its IAM": (
        "template.yaml",
        ENV_GRANT,
        "",
        "AddThirdPartyDataUsingEnvsFunction binds kinde.env but may not ssm:GetParametersByPath on /claimflow/${Stage}/env",
    ),
    "a workflow without the layer": (
        "template.yaml",
        "      CodeUri: functions/map_client_to_organization/\n",
        "      CodeUri: functions/map_client_to_organization/\n      Layers: []\n",
        "MapClientToOrganizationFunction does not have the ClaimflowLayer",
    ),
    "a registry entry without a function": (
        "template.yaml",
        '"function": "${MapClientToOrganizationFunction}:live"',
        '"function": "${RetiredFunction}:live"',
        "registry entry 'mapClientToOrganization' names function RetiredFunction, which the template does not define",
    ),
    "a function without a registry entry": (
        "template.yaml",
        '"function": "${AddThirdPartyDataToAccessTokenFunction}:live"',
        '"function": "${AddThirdPartyDataUsingEnvsFunction}:live"',
        "AddThirdPartyDataToAccessTokenFunction ('addThirdPartyDataToAccessToken') is not in the issuer's CLAIMFLOW_WORKFLOWS",
    ),
    "a registry entry that bypasses the alias": (
        "template.yaml",
        '"function": "${MapClientToOrganizationFunction}:live"',
        '"function": "${MapClientToOrganizationFunction}"',
        "registry entry 'mapClientToOrganization' invokes ${MapClientToOrganizationFunction} ($LATEST) — write "
        '"${MapClientToOrganizationFunction}:live"',
    ),
    "claims hooks without their secrets' grant": (
        "template.yaml",
        "parameter/claimflow/${Stage}/hooks/*\n",
        "parameter/claimflow/${Stage}/hook\n",
        "IssuerFunction serves claims hooks but may not ssm:GetParameter their secrets at /claimflow/${Stage}/hooks/*",
    ),
    "an invoke grant on $LATEST only": (
        "template.yaml",
        "                - !Ref MapClientToOrganizationFunction.Alias\n",
        "                - !GetAtt MapClientToOrganizationFunction.Arn\n",
        "IssuerFunction may not invoke MapClientToOrganizationFunction — add !Ref MapClientToOrganizationFunction.Alias",
    ),
}


@pytest.mark.parametrize("problem", sorted(BROKEN))
def test_check_reports_each_problem_with_file_and_fix(tmp_path: Path, problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    root = project_copy(tmp_path)
    file, old, new, expected = BROKEN[problem]
    edit(root / file, old, new)
    assert cli(["--root", str(root), "check"]) == 1
    out = capsys.readouterr().out
    assert expected in out, out
    assert out.strip().splitlines()[-1].startswith("claimflow check:")


def test_new_scaffolds_a_workflow_that_checks_tests_and_runs_in_an_issuance(tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    assert (
        cli(
            [
                "--root",
                str(root),
                "new",
                "add-plan-to-token",
                "--trigger",
                "user:tokens_generation",
                "--bindings",
                "kinde.env",
                "kinde.fetch",
            ]
        )
        == 0
    )
    assert find_problems(root) == []
    settings = json.loads((root / "events" / "workflow.addPlanToToken.json").read_text())
    assert settings["workflow_id"] == "addPlanToToken"
    # its generated test passes with the kit
    (root / "tests" / "conftest.py").write_text('pytest_plugins = ["claimflow_local.testing"]\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "claimflow"), str(ROOT / "tools")])}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/workflows"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # and the issuer runs it: what make demo / make dev would show
    with open(os.devnull, "w") as sink, LocalDeployment(root=root, log=sink) as stack:
        body = json.loads(
            stack.lambda_client()
            .invoke(FunctionName="IssuerFunction", Payload=(root / "events" / "issuer.user-token.json").read_bytes())["Payload"]
            .read()
        )
    claims = json.loads(__import__("base64").urlsafe_b64decode(body["access_token"].split(".")[1] + "=="))
    assert claims["addPlanToToken_ran"] is True and claims["example_setting"] == "default"
    assert [w["id"] for w in body["workflows"]][-1] == "addPlanToToken"


def test_new_refuses_what_it_cannot_scaffold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project_copy(tmp_path)
    assert cli(["--root", str(root), "new", "addThirdPartyDataToAccessToken", "--trigger", "user:tokens_generation"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert cli(["--root", str(root), "new", "x", "--trigger", "m2m:token_generation", "--bindings", "kinde.fetchh"]) == 2
    assert "kinde.fetchh" in capsys.readouterr().err


def test_env_round_trips_plain_and_secret_values_that_a_workflow_reads_back(ssm: Any) -> None:
    manager = EnvironmentManager(ssm, stage="ft")
    assert manager.set("REGION", "eu-west-1", secret=False, workflow=None) == "set /claimflow/ft/env/REGION (plain)"
    manager.set("API_KEY", "s3cr3t-value-99", secret=True, workflow="wf")
    assert manager.get("REGION", workflow=None) == "REGION=eu-west-1 (plain)"
    assert manager.get("API_KEY", workflow="wf") == "API_KEY=•••• (secret)"
    listing = "\n".join(manager.list(workflow="wf"))
    assert "API_KEY" in listing and "••••" in listing and "s3cr3t" not in listing
    read = EnvironmentVariables(SsmParameterStore(client=ssm, max_age=0), SsmPaths(stage="ft"), SecretRegistry())
    assert read.get("wf", "API_KEY") == EnvironmentVariable("s3cr3t-value-99", True)
    assert read.get("wf", "REGION") == EnvironmentVariable("eu-west-1", False)
    manager.unset("REGION", workflow=None)
    assert read.get("wf", "REGION") is None
    for bad in ("a/b", "1ABC", "has space", ""):
        with pytest.raises(EnvCommandError, match="not a name the env binding can read"):
            manager.set(bad, "v", secret=False, workflow=None)


def test_preview_shows_each_workflow_and_the_final_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["--root", str(ROOT), "preview", "--event", str(ROOT / "events" / "issuer.user-token.json")]) == 0
    out = capsys.readouterr().out
    assert "addThirdPartyDataToAccessToken     ok" in out
    assert "access_token: lifetime_subscriber=true" in out
    assert "access_token (" in out and "bytes signed)" in out


def test_preview_of_a_denial_exits_non_zero_with_the_reason(tmp_path: Path) -> None:
    request = json.loads((ROOT / "events" / "issuer.m2m-token.json").read_text())
    request["client_id"] = "m2m_unknown"
    (tmp_path / "denied.json").write_text(json.dumps(request))
    result = preview(tmp_path / "denied.json", root=ROOT)
    assert not result.ok
    assert result.workflows[0].outcome == "denied" and "m2m_unknown is not registered" in result.workflows[0].detail
    assert result.error is not None and result.error.startswith("access_denied")
    assert json.loads(__import__("claimflow_local.cli.preview", fromlist=["render"]).render(result, as_json=True))["ok"] is False


def test_preview_of_a_failure_shows_the_error(tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    settings = json.loads((root / "local" / "settings.json").read_text())
    settings["third_party"]["api_key"] = "the-third-party-wants-another-key"
    (root / "local" / "settings.json").write_text(json.dumps(settings))
    # The shipped workflow fails on the 401 (the seed's fetch would have read its body as lifetime_subscriber=false).
    result = preview(root / "events" / "issuer.user-token.json", root=root)
    failed = {w.id: w for w in result.workflows}["addThirdPartyDataUsingEnvs"]
    assert failed.outcome == "failed" and "answered HTTP 401" in failed.detail
    assert [e["status"] for e in failed.fetch_errors] == [401] and "/api/user/" in failed.fetch_errors[0]["url"]
    assert "↳ fetch answered HTTP 401: http" in render(result)
    assert result.error is not None and result.error.startswith("server_error")


def test_env_local_without_make_dev_says_so_instead_of_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from claimflow_local.stack.ports import DEV_PORTS, PORT_BASE_VARIABLE

    with holding_ports(len(DEV_PORTS), listen=False) as base:  # held, not listening: make dev is surely not there
        monkeypatch.setenv(PORT_BASE_VARIABLE, str(base))
        assert cli(["env", "list", "--stage", "local", "--local"]) == 2
    ssm = base + DEV_PORTS["ssm"] - DEV_PORTS["token_endpoint"]
    assert f"cannot reach make dev's SSM at http://127.0.0.1:{ssm} (is make dev running?)" in capsys.readouterr().err
