"""``claimflow new NAME --trigger ...``: a workflow with its sample event, a test that uses
the kit, and its block in template.yaml (function, log group, alarms, registry entry, invoke
grant, Output; least-privilege IAM from the bindings' table), rendered from the one source,
``claimflow_local.scaffold``. It is built by functions/Makefile, as every function is."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from claimflow.binding_table import BINDINGS
from claimflow.errors import InvalidSettingsError
from claimflow.issuer.config import IssuerConfig
from claimflow.issuer.request import parse_token_request
from claimflow.settings import WorkflowSettings
from claimflow.tokens import TOKENS, lead_token, tokens_for
from claimflow.triggers import WorkflowTrigger
from claimflow.wire.contracts import WORKFLOW_INVOCATION
from claimflow_local.cli.errors import CommandError
from claimflow_local.scaffold import SOURCE_NAME, WorkflowBlock, render_block
from claimflow_local.template import ISSUER, SamTemplate, TemplateError, load_yaml

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


def _find(lines: list[str], heading: str, start: int = 0) -> int:
    """The index of the first line from ``start`` that reads ``heading`` (indentation aside)."""
    found = next((i for i in range(start, len(lines)) if lines[i].strip() == heading), None)
    if found is None:
        raise ScaffoldError(f"template.yaml has no {heading!r} line to add the new workflow's entry under; nothing written")
    return found


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _end_under(lines: list[str], at: int) -> int:
    """Past the last non-blank line that line ``at`` holds (the lines after it, indented deeper)."""
    depth = len(_indent(lines[at]))
    end = at + 1
    for i in range(at + 1, len(lines)):
        if lines[i].strip() and len(_indent(lines[i])) <= depth:
            break
        if lines[i].strip():
            end = i + 1
    return end


def _indented(section: str, indent: str) -> list[str]:
    """A section of the rendered block (written two spaces in) at ``indent`` instead."""
    return [indent + line[2:] if line.strip() else "" for line in section.splitlines()]


def _insert(template_path: Path, template: str, block: WorkflowBlock) -> str:
    """template.yaml with the workflow's block: its resources above the marker, its registry entry
    last in CLAIMFLOW_WORKFLOWS, its alias last in InvokeRegisteredWorkflows, its Output last."""
    lines = template.replace(MARKER, block.section("Resources") + "\n" + MARKER).splitlines()
    registry = _find(lines, "CLAIMFLOW_WORKFLOWS: !Sub |")
    close = _end_under(lines, registry) - 1
    if lines[close].strip() != "]":
        raise ScaffoldError("template.yaml: CLAIMFLOW_WORKFLOWS does not end with ']' on its own line; nothing written")
    lines[close - 1] = lines[close - 1].rstrip(",") + ","
    lines[close:close] = _indented(block.section("Registry"), _indent(lines[close]) + "  ")
    grant = _end_under(lines, _find(lines, "Resource:", _find(lines, "- Sid: InvokeRegisteredWorkflows")))
    lines[grant:grant] = _indented(block.section("InvokeRegisteredWorkflows"), _indent(lines[grant - 1]))
    outputs = _end_under(lines, _find(lines, "Outputs:"))
    lines[outputs:outputs] = _indented(block.section("Outputs"), "  ")
    text = "\n".join(lines) + "\n"
    cannot = f"template.yaml is laid out in a way new cannot edit (compare it with {SOURCE_NAME}); nothing written"
    try:  # the edited template must read as the block does
        edited = SamTemplate(path=template_path, document=load_yaml(text))
        grants = edited.function_resources()[ISSUER]["Properties"]["Policies"][0]["Statement"][0]["Resource"]
        grants = grants if isinstance(grants, list) else [grants]
        kept = (
            all(edited.resources.get(name) == resource for name, resource in block.resources.items())
            and [entry.id for entry in edited.registry() if entry.function == block.logical_id] == [block.registry_entry["id"]]
            and all(item in grants for item in block.invoke_grant)
            and all(edited.document["Outputs"].get(name) == output for name, output in block.outputs.items())
        )
    except (TemplateError, ValueError, LookupError, TypeError) as error:
        raise ScaffoldError(f"{cannot}: {error}") from error
    if not kept:
        raise ScaffoldError(cannot)
    return text


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
    block = render_block(
        workflow_id=workflow_id,
        logical_id=logical_id,
        code_uri=f"functions/{directory}/",
        trigger=parsed_trigger.value,
        failure_policy=policy,
        bindings=chosen,
    )
    template = _insert(template_path, template, block)
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
