"""The deploy rehearsal: every `sam deploy` command this project documents (README.md and
docs/**/*.md, read from the markdown) and every samconfig.toml environment, run with the real SAM
CLI (.venv-sam) against moto's server on loopback, dummy credentials, --no-execute-changeset.
What CloudFormation receives is asserted: the stack, Stage and every setting of the environment
the command names, and, through SAM's own translator (moto does not run the transform), that the
resources it would create are named for that stage and carry those settings.

What only a real account proves (docs/deploying.md, "What the rehearsal proves"): that the change
set executes, IAM accepts the policies, the functions start, and the URLs answer."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claimflow_local.stack.deployment import built_snapshot
from tests.deploy.rehearsal import (
    SAM,
    DeployCommand,
    Project,
    Received,
    RecordingMoto,
    Values,
    all_commands,
    deploy_environments,
    documented_commands,
    transformed,
)
from tests.support import ROOT

pytestmark = [
    pytest.mark.skipif(not SAM.exists(), reason="SAM CLI is installed by make (.venv-sam)"),
    # moto says so of each resource type it does not model (the SAM transform's among them): the
    # rehearsal reads what CloudFormation received, not what moto makes of it.
    pytest.mark.filterwarnings("ignore:Tried to parse AWS.* but it's not supported by moto:UserWarning"),
]

COMMANDS = all_commands()
EXAMPLES = ("addThirdPartyDataToAccessToken", "addThirdPartyDataUsingEnvs", "mapClientToOrganization")


@pytest.fixture(scope="module")
def moto() -> Iterator[RecordingMoto]:
    server = RecordingMoto().start()
    server.bootstrap_sam_cli()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def build() -> Iterator[Path]:
    """One `sam build` (cached) for every command: each deploys a snapshot of it."""
    with open(os.devnull, "w") as sink:
        template = built_snapshot(ROOT, log=sink)
    yield template.parent
    shutil.rmtree(template.parent, ignore_errors=True)


@pytest.fixture
def project(tmp_path: Path, build: Path, moto: RecordingMoto) -> Project:
    return Project(tmp_path / "project", build, moto)


def test_the_docs_name_deploy_commands_and_the_guide_names_every_environment() -> None:
    documented = documented_commands()
    guide = [c for c in documented if "docs/deploying.md" in c.where]
    assert any(c.guided for c in guide), "docs/deploying.md shows no sam deploy --guided"
    named = {c.config_env for c in guide}
    assert set(deploy_environments()) <= named, f"docs/deploying.md deploys no {set(deploy_environments()) - named}"


@pytest.mark.parametrize("command", COMMANDS, ids=[c.text for c in COMMANDS])
def test_every_deploy_command_deploys_the_stage_it_names_with_all_its_settings(
    command: DeployCommand, project: Project, moto: RecordingMoto
) -> None:
    where = ", ".join(command.where)
    assert not re.search(r"<[^>]*>|\.\.\.|…", command.text), f"{where}: `{command.text}` has a placeholder to fill in"
    expected = command.expected_overrides()
    assert "Stage" in expected, (
        f"{where}: `{command.text}` deploys no Stage of its own (the template's default, dev): add Stage=... to "
        f"[{command.config_env}.deploy.parameters] parameter_overrides in samconfig.toml"
    )

    if command.guided:
        transcript, prompts = project.deploy_guided(command)
    else:
        project.deploy(command)
    taken = moto.taken()
    assert len(taken) == 1, f"{command.text}: {len(taken)} CreateChangeSet requests"
    received = Received.parse(taken[0])
    moto.forget(received.stack_name)

    assert received.stack_name == command.expected_stack()
    assert received.change_set_type == "CREATE" and not received.previous
    assert "CAPABILITY_IAM" in received.capabilities
    # Every setting of the environment (and of the command line, if it gives any) with its value:
    # a --parameter-overrides that replaced the environment's list would drop some of them.
    assert {key: received.parameters.get(key) for key in expected} == expected, (
        f"{where}: `{command.text}` does not deploy [{command.config_env}]'s settings"
    )

    document = received.template(moto)
    values = Values(document, received.parameters, received.stack_name)
    if command.guided:
        # the guided run sends every parameter: the environment's values, else the template's defaults
        assert set(received.parameters) == set(document["Parameters"])
        assert all(received.parameters[k] == values.parameter(k) for k in set(document["Parameters"]) - set(expected))
    else:
        assert received.parameters == expected  # nothing else: the rest are the template's defaults
    resources = Values(transformed(document, received.parameters), received.parameters, received.stack_name)
    named = assert_named_for_its_stage(resources, expected["Stage"])
    effects = assert_settings_take_effect(resources)

    # the rehearsal's table (pytest -s shows it): command, stack, what CloudFormation got, a name, effects
    print(f"\n| `{command.text}` | {received.stack_name} | {_shown(received.parameters, expected)} | `{named}` | {effects} |")
    if command.guided:
        print(transcript)
        assert_guided_run_took_every_default(transcript, prompts, document)


def _shown(parameters: dict[str, str], expected: dict[str, str]) -> str:
    shown = {k: parameters[k] for k in expected}
    rest = len(parameters) - len(shown)
    return " ".join(f"{k}={v}" for k, v in shown.items()) + (f" (+{rest} defaults)" if rest else "")


def assert_named_for_its_stage(resources: Values, stage: str) -> str:
    """The transformed template's names, resolved with what the change set carries."""
    kinds: dict[str, list[str]] = {}
    for _, resource in resources.deployed():
        properties = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::Lambda::LayerVersion":
            assert resources.resolve(properties["LayerName"]) == f"claimflow-{stage}"
        elif kind == "AWS::Logs::LogGroup":
            name = resources.resolve(properties["LogGroupName"])
            assert name.startswith(f"/aws/lambda/claimflow-{stage}-"), name
            kinds.setdefault(kind, []).append(name)
        elif kind == "AWS::CloudWatch::Dashboard":
            assert resources.resolve(properties["DashboardName"]) == f"claimflow-{stage}"
        elif kind == "AWS::KMS::Alias":
            alias = resources.resolve(properties["AliasName"])  # the key set's key, and the recordings' where kept
            assert alias in (f"alias/claimflow/{stage}/keyset", f"alias/claimflow/{stage}/recordings"), alias
        elif kind == "AWS::Lambda::Function":
            assert resources.resolve(properties["Environment"]["Variables"]["CLAIMFLOW_STAGE"]) == stage
        else:
            continue
        kinds.setdefault(kind, [])
    named = {"AWS::Lambda::LayerVersion", "AWS::Logs::LogGroup", "AWS::CloudWatch::Dashboard", "AWS::Lambda::Function"}
    assert named <= set(kinds)
    issuer_log = [name for name in kinds["AWS::Logs::LogGroup"] if name.endswith("-issuer")]
    return issuer_log[0]


def assert_settings_take_effect(resources: Values) -> str:
    """The settings samconfig.toml's environments use, where CloudFormation applies them."""
    deployed = dict(resources.deployed())
    functions = {k: v["Properties"] for k, v in deployed.items() if v["Type"] == "AWS::Lambda::Function"}
    issuer_env = {k: resources.resolve(v) for k, v in functions["IssuerFunction"]["Environment"]["Variables"].items()}

    tracing = {resources.resolve(p["TracingConfig"]["Mode"]) for p in functions.values()}
    assert tracing == {resources.parameter("TracingMode")}
    strategy = resources.parameter("DeploymentStrategy")
    groups = [v["Properties"] for v in deployed.values() if v["Type"] == "AWS::CodeDeploy::DeploymentGroup"]
    assert len(groups) == 5  # the three workflows, the issuer, the JWKS function
    assert {resources.resolve(g["DeploymentConfigName"]) for g in groups} == {f"CodeDeployDefault.Lambda{strategy}"}
    assert issuer_env["CLAIMFLOW_ISSUANCE_BUDGET_MS"] == resources.parameter("IssuanceBudgetMs")
    pool = resources.parameter("CognitoUserPoolArn")
    permission = deployed.get("CognitoInvokesIssuerPermission")
    assert (permission is not None) == bool(pool)
    if permission is not None:
        assert permission["Properties"]["SourceArn"] == {"Ref": "CognitoUserPoolArn"}
    # a deployed stage runs none of the examples unless its settings enable them
    disabled = set(str(issuer_env["CLAIMFLOW_DISABLED_WORKFLOWS"]).split(",")) - {""}
    examples_run = resources.parameter("ExampleWorkflows") == "enabled"
    assert (set(EXAMPLES) <= disabled) == (not examples_run)
    effects = [f"{strategy}", f"tracing {resources.parameter('TracingMode')}", f"examples {'on' if examples_run else 'off'}"]
    if pool:
        effects.append("Cognito may invoke the issuer")
    return ", ".join(effects)


def assert_guided_run_took_every_default(transcript: str, prompts: list[str], document: dict[str, Any]) -> None:
    """Enter at every prompt completes it: no Function URL question, one prompt per parameter."""
    assert "has no authentication" not in transcript
    asked = [p.split("Parameter ", 1)[1].split(" [", 1)[0] for p in prompts if p.startswith("Parameter ")]
    assert asked == list(document["Parameters"])
    assert prompts[0].startswith("Stack Name [claimflow-dev]")
    assert any(p.startswith("Save arguments to configuration file") for p in prompts)
    assert "Changeset created successfully" in transcript
    # docs/deploying.md shows these prompts as they come, and counts the parameters
    guide = (ROOT / "docs" / "deploying.md").read_text()
    shown = next(b for b in re.findall(r"^```[^\n]*\n(.*?)^```", guide, re.M | re.S) if b.startswith("Stack Name ["))
    lines = [line.split("#", 1)[0].strip() for line in shown.splitlines() if not line.startswith("…")]
    assert [line for line in lines if line not in prompts] == []
    assert 'one "Parameter <Name> [<default>]" per template parameter, in template.yaml\'s order' in guide
