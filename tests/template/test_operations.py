"""Deployments are safe and operations observable, as the template wires them: workflows and the
issuer go out as versions behind the live alias the issuer's registry invokes, each deployment
rolls back on alarms watching that very function (and, for a workflow, the issuer's count of its
failures), every function logs to a group with retention, and every alarm watches a metric the
code emits with the dimensions it emits."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support import ROOT
from tests.template.test_template import functions, registry, sam

LAYER = ROOT / "layers" / "claimflow" / "claimflow"


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in sam()["Resources"].items() if v["Type"] == kind}


def workflow_ids() -> dict[str, str]:
    """Function logical id -> workflow id, from the registry."""
    return {re.fullmatch(r"\$\{(\w+)\}:live", e["function"]).group(1): e["id"] for e in registry()}  # type: ignore[union-attr]


def test_every_function_publishes_versions_behind_the_live_alias() -> None:
    assert sam()["Globals"]["Function"]["AutoPublishAlias"] == "live"
    assert all("AutoPublishAlias" not in f["Properties"] for f in functions().values())  # none opts out


def test_the_registry_and_the_issuers_grant_name_every_workflows_alias() -> None:
    assert len(workflow_ids()) == len(registry())  # every entry is "${Function}:live"
    grant = next(
        s
        for s in functions()["IssuerFunction"]["Properties"]["Policies"][0]["Statement"]
        if s.get("Sid") == "InvokeRegisteredWorkflows"
    )
    assert grant["Resource"] == [{"Ref": f"{function}.Alias"} for function in workflow_ids()]


@pytest.mark.parametrize("function", ["IssuerFunction", "JwksFunction", *sorted(workflow_ids())])
def test_each_deployment_rolls_back_on_alarms_watching_that_function(function: str) -> None:
    preference = functions()[function]["Properties"]["DeploymentPreference"]
    assert preference["Type"] == {"Ref": "DeploymentStrategy"}
    alarms = {ref["Ref"]: sam()["Resources"][ref["Ref"]]["Properties"] for ref in preference["Alarms"]}
    errors = alarms[f"{function}ErrorsAlarm"]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    assert {d["Name"]: d["Value"] for d in errors["Dimensions"]} == {
        "FunctionName": {"Ref": function},
        "Resource": {"Fn::Sub": f"${{{function}}}:live"},  # the alias: the new version's errors during the shift
    }
    if function in workflow_ids():
        failures = alarms[f"{function}FailuresAlarm"]
        assert (failures["Namespace"], failures["MetricName"], failures["Statistic"]) == (
            "claimflow",
            "WorkflowDuration",
            "SampleCount",
        )
        assert {d["Name"]: d["Value"] for d in failures["Dimensions"]} == {
            "workflow": workflow_ids()[function],
            "outcome": "failed",
        }
    if function == "IssuerFunction":
        assert "IssuanceErrorsAlarm" in alarms


def test_every_function_logs_json_to_a_group_that_keeps_logs_as_long_as_the_parameter_says() -> None:
    groups = resources("AWS::Logs::LogGroup")
    for name, function in functions().items():
        config = function["Properties"]["LoggingConfig"]
        assert config["LogFormat"] == "JSON", name
        group = groups[config["LogGroup"]["Ref"]]["Properties"]
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    assert len(groups) == len(functions())


def emitted() -> set[tuple[str, frozenset[str]]]:
    """(metric, dimension names) the layer emits through Powertools Metrics."""
    code = "\n".join(p.read_text() for p in LAYER.rglob("*.py"))
    found: set[tuple[str, frozenset[str]]] = set()
    for service in set(re.findall(r'Metrics\(namespace="claimflow", service="([\w-]+)"\)', code)):
        module = next(p.read_text() for p in LAYER.rglob("*.py") if f'service="{service}")' in p.read_text())
        found |= {(name, frozenset({"service"})) for name in re.findall(r'add_metric\(name="(\w+)"', module)}
    dimensions = frozenset(re.findall(r'metric\.add_dimension\(name="(\w+)"', code))
    found |= {(name, dimensions) for name in re.findall(r'single_metric\(\s*name="(\w+)"', code)}
    return found


def test_every_alarm_on_claimflows_metrics_watches_what_the_code_emits() -> None:
    alarms = resources("AWS::CloudWatch::Alarm")
    ours = {k: v["Properties"] for k, v in alarms.items() if v["Properties"]["Namespace"] == "claimflow"}
    assert ours
    for name, alarm in ours.items():
        watched = (alarm["MetricName"], frozenset(d["Name"] for d in alarm["Dimensions"]))
        assert watched in emitted(), f"{name} watches {watched}, which nothing emits"


def test_alarms_cover_errors_denials_failures_p99_and_throttles() -> None:
    watched = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in resources("AWS::CloudWatch::Alarm").values()
    }
    assert {
        ("claimflow", "IssuanceErrors"),
        ("claimflow", "AccessDenied"),
        ("claimflow", "WorkflowDuration"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "Errors"),
        ("claimflow", "KeyRotationFailures"),
    } <= watched
    p99 = [
        a["Properties"] for a in resources("AWS::CloudWatch::Alarm").values() if a["Properties"].get("ExtendedStatistic") == "p99"
    ]
    assert len(p99) == len(workflow_ids())


def test_the_dashboard_shows_the_metrics_the_alarms_watch() -> None:
    body = sam()["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    shown = json.dumps(widgets)
    for metric in ("TokensIssued", "AccessDenied", "IssuanceErrors", "WorkflowDuration", "Throttles", "KeyRotationFailures"):
        assert metric in shown


def test_scale_options_are_off_by_default_and_exclusive() -> None:
    parameters = sam()["Parameters"]
    assert (parameters["Architecture"]["Default"], parameters["IssuerProvisionedConcurrency"]["Default"]) == ("x86_64", 0)
    assert parameters["IssuerSnapStart"]["Default"] == "false"
    rule = sam()["Rules"]["SnapStartOrProvisionedConcurrency"]
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "IssuerProvisionedConcurrency"}, 0]}
    assert sam()["Resources"]["ClaimflowLayer"]["Properties"]["CompatibleArchitectures"] == [{"Ref": "Architecture"}]
