"""``claimflow new NAME --trigger ...``: a workflow with its sample event, a test that uses
the kit, its function resource (least-privilege IAM from the bindings' table) and its
registry entry. It is built by functions/Makefile (``ContextPath``), as every function is."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from claimflow.bindings import BINDINGS
from claimflow.errors import InvalidSettingsError
from claimflow.issuer.request import IssuerConfig, parse_token_request
from claimflow.settings import WorkflowSettings
from claimflow.tokens import TOKENS, lead_token, tokens_for
from claimflow.triggers import WorkflowTrigger
from claimflow.wire.contracts import WORKFLOW_INVOCATION
from claimflow_local.cli.errors import CommandError
from claimflow_local.iam import required_statements, statements_yaml

__all__ = ["ScaffoldError", "Scaffolded", "scaffold"]

MARKER = "  # claimflow new: workflow resources go above this line.\n"


class ScaffoldError(CommandError):
    """``new`` was asked for something it cannot scaffold; nothing was written."""


@dataclass(frozen=True)
class Scaffolded:
    """What ``new`` wrote, and the names to run it by."""

    workflow_id: str
    logical_id: str
    event: Path
    written: list[Path]


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    words = [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]
    if not words or not words[0][0].isalpha():
        raise ScaffoldError(f"workflow name {name!r} must start with a letter, e.g. add-plan-to-token")
    return words


def _module(workflow_id: str, trigger: WorkflowTrigger, bindings: list[str], function: str, policy: str) -> str:
    token_fn = TOKENS[lead_token(trigger)].function
    imports = sorted(
        {"EventView", "WorkflowSettings", "WorkflowTrigger", "create_handler", token_fn}
        | ({"get_environment_variable"} if "kinde.env" in bindings else set())
    )
    trigger_name = trigger.name
    policy_line = f'    failure_policy="{policy}",\n' if policy != "stop" else ""
    body = [f"    claims = {token_fn}()", ""]
    if "kinde.env" in bindings:
        body += [
            '    setting = get_environment_variable("EXAMPLE_SETTING")',
            '    claims.example_setting = setting.value if setting else "default"',
        ]
    if "kinde.fetch" in bindings:
        body += [
            "    # A third-party lookup (import fetch from claimflow), e.g.:",
            '    # data = fetch(f"{os.environ[\'API_BASE_URL\']}/api/...", method="GET", response_format="json").data',
        ]
    body += [f"    claims.{workflow_id}_ran = True  # replace with your logic"]
    binding_lines = "\n".join(f'        "{b}": {{}},' for b in bindings)
    return f'''"""Workflow {workflow_id}: describe what it adds to the token, and why."""

from claimflow import (
{chr(10).join(f"    {name}," for name in imports)}
)

workflow_settings = WorkflowSettings(
    id="{workflow_id}",
    name="{workflow_id}",
    trigger=WorkflowTrigger.{trigger_name},
{policy_line}    bindings={{
{binding_lines}
    }},
)


def {function}(event: EventView) -> None:
{chr(10).join(body)}


lambda_handler = create_handler(workflow_settings, {function})
'''


def _test(directory: str, workflow_id: str, trigger: WorkflowTrigger, bindings: list[str]) -> str:
    token = lead_token(trigger).value
    expected = {f"{workflow_id}_ran": True, **({"example_setting": "from-ssm"} if "kinde.env" in bindings else {})}
    env = '    workflow_kit.env(EXAMPLE_SETTING="from-ssm")\n' if "kinde.env" in bindings else ""
    return f'''"""{workflow_id}, run by the claimflow testing kit on its sample event."""

from pathlib import Path

from claimflow_local.testing import WorkflowKit

ROOT = Path(__file__).resolve().parents[2]


def test_{directory}_sets_its_claims(workflow_kit: WorkflowKit) -> None:
{env}    result = workflow_kit.run(ROOT / "functions/{directory}/app.py", event=ROOT / "events/workflow.{workflow_id}.json")
    assert result.outcome == "ok", result.reply
    assert result.claims("{token}") == {expected!r}
'''


def _event(root: Path, workflow_id: str, trigger: WorkflowTrigger) -> str:
    """The invocation the issuer would send for the project's sample token request of this trigger."""
    sample = "issuer.user-token.json" if trigger is WorkflowTrigger.UserTokenGeneration else "issuer.m2m-token.json"
    request = parse_token_request(json.loads((root / "events" / sample).read_text()), IssuerConfig(issuer_url="http://127.0.0.1"))
    invocation: dict[str, object] = {
        "contract": WORKFLOW_INVOCATION,
        "workflow_id": workflow_id,
        "trigger": trigger.value,
        "correlation_id": f"sample-{workflow_id}",
        "deadline_ms": 2000,
        "event": request.event,
        "tokens": {kind.value: {} for kind in tokens_for(trigger)},
    }
    return json.dumps(invocation, indent=2) + "\n"


def _resource(template: str, logical_id: str, workflow_id: str, directory: str, bindings: list[str]) -> str:
    """The function, its log group and its alarms, written as the template's own workflows are."""
    start = template.find("    Metadata:\n      BuildMethod: makefile")
    metadata = template[start : template.index("    Properties:", start)] if start >= 0 else ""
    statements = [statement for _, statement in required_statements(workflow_id, bindings)]
    policy_text = (
        ("      Policies:\n        - Statement:\n" + statements_yaml(statements) + "\n")
        if statements
        else "      # Its bindings need no AWS access at all.\n"
    )
    slug = directory.replace("_", "-")
    function = (
        f"  {logical_id}:\n    Type: AWS::Serverless::Function\n{metadata}    Properties:\n"
        f'      Description: "workflow {workflow_id}"\n      CodeUri: functions/{directory}/\n'
        f"      Handler: app.lambda_handler\n"
        f"      LoggingConfig:\n        LogFormat: JSON\n        LogGroup: !Ref {logical_id}LogGroup\n"
        f"      DeploymentPreference:\n        Type: !Ref DeploymentStrategy\n        Alarms:\n"
        f"          - !Ref {logical_id}ErrorsAlarm\n          - !Ref {logical_id}FailuresAlarm\n"
        f"{policy_text}\n"
    )
    log_group = template.find("  AddThirdPartyDataToAccessTokenFunctionLogGroup:")
    waiver = (
        template[template.index("    Metadata:", log_group) : template.index("    Properties:", log_group)]
        if log_group >= 0
        else ""
    )
    alarms = f"""  {logical_id}LogGroup:
    Type: AWS::Logs::LogGroup
{waiver}    Properties:
      LogGroupName: !Sub /aws/lambda/claimflow-${{Stage}}-{slug}
      RetentionInDays: !Ref LogRetentionDays

  {logical_id}ErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: "{logical_id} (live alias) raised an error; during a deployment this rolls it back"
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions:
        - Name: FunctionName
          Value: !Ref {logical_id}
        - Name: Resource
          Value: !Sub "${{{logical_id}}}:live"
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching
      AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]

  {logical_id}FailuresAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: "workflow {workflow_id} failed in the issuer (crash, timeout, refused reply); rolls its deployment back"
      Namespace: claimflow
      MetricName: WorkflowDuration
      Dimensions:
        - Name: workflow
          Value: {workflow_id}
        - Name: outcome
          Value: failed
      Statistic: SampleCount
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching
      AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]

"""
    return function + alarms


def _register(template: str, logical_id: str, workflow_id: str, trigger: WorkflowTrigger, policy: str) -> str:
    lines = template.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if "CLAIMFLOW_WORKFLOWS: !Sub |" in line)
    close = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "]")
    indent = lines[close][: len(lines[close]) - len(lines[close].lstrip())]
    last = close - 1
    lines[last] = lines[last].rstrip("\n").rstrip(",") + ",\n"
    entry = (
        f'{indent}  {{"id": "{workflow_id}", "trigger": "{trigger.value}",\n'
        f'{indent}   "function": "${{{logical_id}}}:live", "failure_policy": "{policy}", "timeout_ms": 2000}}\n'
    )
    lines.insert(close, entry)
    text = "".join(lines)
    sid = text.index("Sid: InvokeRegisteredWorkflows")
    aliases = [m.end() for m in re.finditer(r"\n( +)- !Ref \w+\.Alias", text[sid:])]
    if not aliases:
        raise ScaffoldError("template.yaml: InvokeRegisteredWorkflows lists no function alias; cannot add the new one")
    at = sid + aliases[0]
    while True:  # the end of the consecutive alias lines
        following = re.match(r"\n( +)- !Ref \w+\.Alias", text[at:])
        if not following:
            break
        at += following.end()
    item_indent = re.search(r"\n( +)- !Ref \w+\.Alias", text[sid:]).group(1)  # type: ignore[union-attr]
    text = text[:at] + f"\n{item_indent}- !Ref {logical_id}.Alias" + text[at:]
    return text.rstrip("\n") + f"\n  {logical_id}Arn:\n    Value: !GetAtt {logical_id}.Arn\n"


def scaffold(root: Path, name: str, *, trigger: str, bindings: list[str], policy: str = "stop") -> Scaffolded:
    try:
        parsed_trigger = WorkflowTrigger(trigger)
    except ValueError:
        raise ScaffoldError(f"--trigger {trigger!r}: use user:tokens_generation or m2m:token_generation") from None
    if policy not in ("stop", "continue"):
        raise ScaffoldError(f"--policy {policy!r}: use stop or continue")
    words = _words(name)
    workflow_id = words[0] + "".join(w.capitalize() for w in words[1:])
    directory = "_".join(words)
    logical_id = "".join(w.capitalize() for w in words) + "Function"
    token_binding = TOKENS[lead_token(parsed_trigger)].binding
    chosen = [token_binding, *[b for b in bindings if b != token_binding]]
    unknown = [b for b in chosen if b not in BINDINGS]
    if unknown:
        raise ScaffoldError(f"--bindings {', '.join(unknown)}: use some of {', '.join(BINDINGS)}")
    for binding in list(chosen):  # what a binding's functions need beside it (fetch needs url)
        chosen += [needed for needed in BINDINGS[binding].requires if needed not in chosen]
    try:  # the settings the module will declare, validated as its import will, before anything is written
        WorkflowSettings(
            id=workflow_id, trigger=parsed_trigger, failure_policy=policy, bindings={binding: {} for binding in chosen}
        )
    except InvalidSettingsError as error:
        raise ScaffoldError(f"nothing written: {error}") from None
    code_dir = root / "functions" / directory
    if code_dir.exists():
        raise ScaffoldError(f"functions/{directory} already exists")
    template_path = root / "template.yaml"
    template = template_path.read_text()
    if MARKER not in template:
        raise ScaffoldError(f"template.yaml has lost the line {MARKER.strip()!r} that marks where workflows go")
    if f"  {logical_id}:" in template:
        raise ScaffoldError(f"template.yaml already defines {logical_id}")
    template = template.replace(MARKER, _resource(template, logical_id, workflow_id, directory, chosen) + MARKER)
    template = _register(template, logical_id, workflow_id, parsed_trigger, policy)
    written = {
        code_dir / "app.py": _module(workflow_id, parsed_trigger, chosen, directory, policy),
        code_dir / "requirements.txt": "# Dependencies come from the claimflow layer (layers/claimflow/requirements.txt).\n",
        root / "events" / f"workflow.{workflow_id}.json": _event(root, workflow_id, parsed_trigger),
        root / "tests" / "workflows" / f"test_{directory}.py": _test(directory, workflow_id, parsed_trigger, chosen),
    }
    package_marker = root / "tests" / "workflows" / "__init__.py"
    if not package_marker.exists():
        written[package_marker] = ""
    for path, text in written.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    template_path.write_text(template)
    event = root / "events" / f"workflow.{workflow_id}.json"
    return Scaffolded(workflow_id, logical_id, event, [*written, template_path])
