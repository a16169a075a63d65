"""``claimflow check``: the code and template.yaml must agree. One line per problem, naming
the file and the fix; exit status 1 when there is any. Two workflows that run on one trigger
and write the same claim are reported as warnings (the later one wins at run time), and so is a
workflow that reads a fetch result's data without looking at its status.

Each workflow's resources are held to its block (``claimflow_local.scaffold``, the one source
``claimflow new`` renders): a resource or Output of the block that is missing, or a value the
block writes that differs, is a problem named by resource. What the block does not write (a
Timeout, MemorySize or Environment of the workflow's own) is the workflow's to choose."""

from __future__ import annotations

import itertools
import json
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimflow.environment import Env
from claimflow.issuer.hooks.roster import HTTP_HOOKS
from claimflow_local.claims_written import claims_written
from claimflow_local.fetch_status import unchecked_data_reads
from claimflow_local.iam import required_statements, ssm_arn
from claimflow_local.project import Project
from claimflow_local.scaffold import SOURCE_NAME, WorkflowBlock, render_block
from claimflow_local.template import ISSUER, RegistryEntry, SamTemplate

__all__ = ["CheckReport", "check_project", "find_problems"]

TEMPLATE = "template.yaml"
SAMCONFIG = "samconfig.toml"
DISABLED = "DisabledWorkflows"
UNCHECKED_STATUS = (
    "reads a fetch result's data without looking at its status: a 401 or 500 with a JSON body reads as data "
    "(a wrong claim, reported ok) — check .status (e.g. 404: no such record) or call .raise_for_status() first"
)


@dataclass(frozen=True)
class CheckReport:
    problems: list[str]
    warnings: list[str]


def _listed(text: str) -> set[str]:
    return {item for item in text.replace(" ", ",").split(",") if item}


@dataclass(frozen=True)
class _Configuration:
    """One way the stack runs: the parameter overrides it deploys (or runs locally) with."""

    where: str
    overrides: Mapping[str, str]

    def disabled_ids(self) -> set[str]:
        """The ids its ``DisabledWorkflows`` names (what a typo would leave running)."""
        return _listed(self.overrides.get(DISABLED, ""))


def _configurations(project: Project) -> list[_Configuration]:
    """Where the workflows that run are decided: the template's defaults, each samconfig.toml
    section that overrides parameters (one per stage and command), and the local stacks."""
    found = [_Configuration(f"{TEMPLATE} default", {})]
    path = project.root / SAMCONFIG
    config = tomllib.loads(path.read_text()) if path.exists() else {}
    for env, commands in config.items():
        for command, section in commands.items() if isinstance(commands, dict) else ():
            overrides = section.get("parameters", {}).get("parameter_overrides") if isinstance(section, dict) else None
            if overrides is None:
                continue
            words = shlex.split(overrides) if isinstance(overrides, str) else [str(o) for o in overrides]
            found.append(
                _Configuration(f"{SAMCONFIG} [{env}.{command}.parameters]", dict(w.split("=", 1) for w in words if "=" in w))
            )
    found.append(_Configuration("make demo / make dev (Stage local)", {"Stage": "local"}))
    return found


def _not_running(project: Project, configuration: _Configuration) -> set[str]:
    """The ids the issuer leaves out in ``configuration``: its CLAIMFLOW_DISABLED_WORKFLOWS as the
    template resolves it there (DisabledWorkflows, and the examples where ExampleWorkflows keeps them off)."""
    known = set(project.template.document.get("Parameters", {}))
    overrides = {name: value for name, value in configuration.overrides.items() if name in known}
    template = SamTemplate.load(project.template.path, parameter_overrides=overrides)
    issuer = template.functions().get(ISSUER)
    return _listed(str(issuer.environment.get("CLAIMFLOW_DISABLED_WORKFLOWS", ""))) if issuer else set()


def _disabled_problems(configurations: list[_Configuration], registry: list[RegistryEntry]) -> list[str]:
    registered = {entry.id for entry in registry}
    return [
        f"{c.where}: {DISABLED} names {', '.join(sorted(c.disabled_ids() - registered))}, which CLAIMFLOW_WORKFLOWS does not "
        f"register (registered: {', '.join(sorted(registered))}) — fix the id; the issuer refuses to start with it"
        for c in configurations
        if c.disabled_ids() - registered
    ]


def _conflicts(
    written: Mapping[str, tuple[str, dict[Any, set[str]]]], registry: list[RegistryEntry], configurations: Mapping[str, set[str]]
) -> list[str]:
    """``configurations``: where each configuration runs -> the ids it leaves out."""
    """Pairs of workflows on one trigger, both running in some configuration, setting one claim."""
    warnings = []
    for first, second in itertools.combinations(registry, 2):
        if first.trigger != second.trigger or first.id not in written or second.id not in written:
            continue
        together = [where for where, off in configurations.items() if first.id not in off and second.id not in off]
        if not together:
            continue
        (first_file, first_claims), (second_file, second_claims) = written[first.id], written[second.id]
        for token in sorted(set(first_claims) & set(second_claims)):
            for claim in sorted(first_claims[token] & second_claims[token]):
                warnings.append(
                    f"{first_file} and {second_file} both set '{claim}' on the {token.value} for {first.trigger} "
                    f"(both run in: {', '.join(together)}); {second.id} runs later and wins — rename one claim, "
                    f"or run one per stage with {DISABLED}"
                )
    return warnings


def _statements(resource: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in resource.get("Properties", {}).get("Policies", []) or []:
        if isinstance(policy, dict):
            found += policy.get("Statement", [])
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _granted(resource: Mapping[str, Any], action: str) -> list[Any]:
    """Every resource the function's inline policies grant ``action`` on, as written."""
    return [
        target
        for statement in _statements(resource)
        if action in _as_list(statement.get("Action", []))
        for target in _as_list(statement.get("Resource", []))
    ]


def _has_layer(project: Project, resource: Mapping[str, Any]) -> bool:
    layers = resource.get("Properties", {}).get("Layers")
    if layers is None:
        layers = project.template.document.get("Globals", {}).get("Function", {}).get("Layers", [])
    return {"Ref": "ClaimflowLayer"} in layers


def _iam_problems(logical_id: str, resource: Mapping[str, Any], workflow_id: str, bindings: set[str]) -> list[str]:
    problems = []
    needed = required_statements(workflow_id, bindings)
    needed_actions = {statement.action for _, statement in needed}
    for binding, statement in needed:
        granted = _granted(resource, statement.action)
        for path in statement.resources:
            if {"Fn::Sub": ssm_arn(path)} not in granted:
                problems.append(
                    f"{TEMPLATE}: {logical_id} binds {binding} but may not {statement.action} on {path} "
                    "— add it to the function's Policies"
                )
    for action in ("ssm:GetParametersByPath", "ssm:GetParameter"):
        if action not in needed_actions and _granted(resource, action):
            problems.append(f"{TEMPLATE}: {logical_id} may {action} but no binding it declares needs it — remove the grant")
    return problems


def _literal(value: Any) -> Any:
    """A ``!Sub`` of text without ``${...}`` is that text."""
    if isinstance(value, dict) and list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str):
        return value["Fn::Sub"] if "${" not in value["Fn::Sub"] else value
    return value


def _differences(expected: Any, actual: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(where, the block's value, the template's) for each value the block writes that ``actual``
    does not have; keys the block does not write are left to the workflow."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found: list[tuple[str, Any, Any]] = []
        for key, value in expected.items():
            where = f"{path}.{key}" if path else key
            found += [(where, value, None)] if key not in actual else _differences(value, actual[key], where)
        return found
    return [] if _literal(expected) == _literal(actual) else [(path, expected, actual)]


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 90 else text[:87] + "..."


def _block_problems(template: SamTemplate, block: WorkflowBlock, workflow_id: str, *, iam_reported: bool) -> list[str]:
    """The workflow's resources and Output against its block, one line per resource that departs."""
    problems = []
    substitutions = f"@{{logical_id}} = {block.logical_id}, @{{workflow_id}} = {workflow_id}"
    written = [(name, expected, template.resources.get(name), "") for name, expected in block.resources.items()]
    outputs = template.document.get("Outputs", {})
    written += [(name, expected, outputs.get(name), "Output ") for name, expected in block.outputs.items()]
    for name, expected, actual, kind in written:
        if actual is None:
            problems.append(
                f"{TEMPLATE}: {kind}{name} of workflow {workflow_id}'s block is missing — add it as {SOURCE_NAME} writes "
                f"{block.source_of(name)} ({substitutions}), as claimflow new does"
            )
            continue
        differences = [
            difference
            for difference in _differences(expected, actual)
            if not (iam_reported and difference[0].startswith("Properties.Policies"))  # reported binding by binding
        ]
        if differences:
            where, wanted, found = differences[0]
            more = f" (and {len(differences) - 1} more)" if len(differences) > 1 else ""
            has = f"has no {where}" if found is None else f"has {where} {_shown(found)}"
            problems.append(
                f"{TEMPLATE}: {kind}{name} {has}{more}, but workflow {workflow_id}'s block writes {_shown(wanted)} "
                f"({SOURCE_NAME}, {block.source_of(name)}) — write what the block writes, or change the block for every workflow"
            )
    return problems


def _hook_problems(template: Any, issuer: Mapping[str, Any]) -> list[str]:
    """Claims hooks (the issuer's URL) need their secrets readable, and the URL on the live alias."""
    urls = {k: v for k, v in template.resources.items() if v.get("Type") == "AWS::Lambda::Url"}
    hook_urls = {
        k: v
        for k, v in urls.items()
        if v.get("Properties", {}).get("TargetFunctionArn") in ({"Ref": f"{ISSUER}.Alias"}, {"Ref": ISSUER})
    }
    if not hook_urls:
        return []
    problems = []
    secrets = {"Fn::Sub": ssm_arn("/claimflow/${Stage}/hooks/*")}
    if secrets not in _granted(issuer, "ssm:GetParameter"):
        problems.append(
            f"{TEMPLATE}: {ISSUER} serves claims hooks but may not ssm:GetParameter their secrets at "
            "/claimflow/${Stage}/hooks/* — add it to its Policies"
        )
    for name, url in hook_urls.items():
        if url["Properties"]["TargetFunctionArn"] != {"Ref": f"{ISSUER}.Alias"}:
            problems.append(f"{TEMPLATE}: {name} points at {ISSUER}'s $LATEST — target !Ref {ISSUER}.Alias, as deployments do")
    return problems


def claims_hooks_pattern() -> str:
    """The ``AllowedPattern`` of the template's ``ClaimsHooks``: a comma list of the roster's routes."""
    routes = "|".join(HTTP_HOOKS)
    return f"^(({routes})(,({routes}))*)?$"


def _claims_hooks_parameter_problems(template: Any) -> list[str]:
    """The template documents and accepts exactly the hooks the roster lists."""
    parameter = template.document.get("Parameters", {}).get("ClaimsHooks")
    if parameter is None:
        return [f"{TEMPLATE}: no ClaimsHooks parameter; the issuer reads it as {Env.CLAIMS_HOOKS}"]
    problems = []
    if parameter.get("AllowedPattern") != claims_hooks_pattern():
        problems.append(
            f"{TEMPLATE}: ClaimsHooks' AllowedPattern does not accept exactly the claims hooks there are "
            f"({', '.join(HTTP_HOOKS)}): set it to {claims_hooks_pattern()!r}"
        )
    undocumented = [route for route in HTTP_HOOKS if route not in str(parameter.get("Description", ""))]
    if undocumented:
        problems.append(f"{TEMPLATE}: ClaimsHooks' Description does not name {', '.join(undocumented)}")
    return problems


def find_problems(root: Path) -> list[str]:
    return check_project(root).problems


def check_project(root: Path) -> CheckReport:
    project = Project(root)
    template = project.template
    problems: list[str] = []
    functions = template.function_resources()
    registry = template.registry()
    by_function = {registered.function: registered for registered in registry}
    seen_ids: dict[str, str] = {}
    written: dict[str, tuple[str, dict[Any, set[str]]]] = {}
    unchecked: list[str] = []

    for registered in registry:
        if registered.function not in functions:
            problems.append(
                f"{TEMPLATE}: registry entry '{registered.id}' names function {registered.function}, which the template "
                f"does not define — add the function resource or remove the entry from CLAIMFLOW_WORKFLOWS"
            )
    invocable = _granted(functions.get(ISSUER, {}), "lambda:InvokeFunction")
    problems += _hook_problems(template, functions.get(ISSUER, {}))
    problems += _claims_hooks_parameter_problems(template)
    for directory in project.workflow_dirs():
        where = str((directory / "app.py").relative_to(project.root))
        try:
            settings = project.load_settings(directory)
        except Exception as error:  # the settings themselves are wrong: report, go on with the rest
            problems.append(f"{where}: {type(error).__name__}: {error}")
            continue
        if settings.id in seen_ids:
            problems.append(f"{where}: workflow id '{settings.id}' is also used by {seen_ids[settings.id]} — ids must be unique")
        seen_ids[settings.id] = where
        written[settings.id] = (where, claims_written(directory / "app.py"))
        unchecked += [f"{where}:{line}: {UNCHECKED_STATUS}" for line in unchecked_data_reads(directory / "app.py")]
        logical_id = template.logical_id_for(directory)
        if logical_id is None:
            problems.append(
                f"{where}: no function resource in {TEMPLATE} has CodeUri {directory.relative_to(project.root)}/ "
                "— add one (claimflow new writes it)"
            )
            continue
        resource = functions[logical_id]
        if not _has_layer(project, resource):
            problems.append(f"{TEMPLATE}: {logical_id} does not have the ClaimflowLayer — add it to its Layers (or Globals)")
        entry = by_function.get(logical_id)
        if entry is None:
            problems.append(
                f"{TEMPLATE}: {logical_id} ('{settings.id}') is not in the issuer's CLAIMFLOW_WORKFLOWS — register it"
            )
        else:
            for field, code_value in (
                ("id", settings.id),
                ("trigger", settings.workflow_trigger.value),
                ("failure_policy", settings.policy.value),
            ):
                if getattr(entry, field) != code_value:
                    problems.append(
                        f"{TEMPLATE}: registry entry for {logical_id} has {field} '{getattr(entry, field)}' but "
                        f"{where} declares '{code_value}' — make them equal"
                    )
            alias = template.alias_of(logical_id)
            if alias is not None and entry.qualifier != alias:
                invoked = f"${{{logical_id}}}" + (f":{entry.qualifier}" if entry.qualifier else " ($LATEST)")
                problems.append(
                    f"{TEMPLATE}: registry entry '{entry.id}' invokes {invoked} — write \"${{{logical_id}}}:{alias}\" "
                    f"so deployments (canaries, rollbacks) reach the issuer through the '{alias}' alias"
                )
            grant: dict[str, Any] = {"Ref": f"{logical_id}.Alias"} if alias is not None else {"Fn::GetAtt": [logical_id, "Arn"]}
            if grant not in invocable:
                needed = f"!Ref {logical_id}.Alias" if alias is not None else f"!GetAtt {logical_id}.Arn"
                problems.append(f"{TEMPLATE}: {ISSUER} may not invoke {logical_id} — add {needed} to InvokeRegisteredWorkflows")
        iam = _iam_problems(logical_id, resource, settings.id, set(settings.bindings))
        description = resource.get("Properties", {}).get("Description")
        block = render_block(
            workflow_id=settings.id,
            logical_id=logical_id,
            code_uri=str(resource["Properties"]["CodeUri"]),
            trigger=settings.workflow_trigger.value,
            failure_policy=settings.policy.value,
            bindings=settings.bindings,
            description=description if isinstance(description, str) else None,
        )
        problems += iam + _block_problems(template, block, settings.id, iam_reported=bool(iam))
    ids = [e.id for e in registry]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"{TEMPLATE}: workflow id '{duplicate}' is registered more than once in CLAIMFLOW_WORKFLOWS")
    configurations = _configurations(project)
    refused = _disabled_problems(configurations, registry)
    problems += refused
    if refused:  # a registry the issuer would refuse to start with: what runs where is moot
        return CheckReport(problems, unchecked)
    not_running = {c.where: _not_running(project, c) for c in configurations}
    return CheckReport(problems, _conflicts(written, registry, not_running) + unchecked)
