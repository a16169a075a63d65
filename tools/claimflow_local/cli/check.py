"""``claimflow check``: the code and template.yaml must agree. One line per problem, naming
the file and the fix; exit status 1 when there is any."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from claimflow_local.iam import required_statements, ssm_arn
from claimflow_local.project import Project
from claimflow_local.template import ISSUER

__all__ = ["find_problems"]

TEMPLATE = "template.yaml"


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


def find_problems(root: Path) -> list[str]:
    project = Project(root)
    template = project.template
    problems: list[str] = []
    functions = template.function_resources()
    registry = template.registry()
    by_function = {registered.function: registered for registered in registry}
    seen_ids: dict[str, str] = {}

    for registered in registry:
        if registered.function not in functions:
            problems.append(
                f"{TEMPLATE}: registry entry '{registered.id}' names function {registered.function}, which the template "
                f"does not define — add the function resource or remove the entry from CLAIMFLOW_WORKFLOWS"
            )
    invocable = _granted(functions.get(ISSUER, {}), "lambda:InvokeFunction")
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
            if {"Fn::GetAtt": [logical_id, "Arn"]} not in invocable:
                problems.append(
                    f"{TEMPLATE}: {ISSUER} may not invoke {logical_id} — add !GetAtt {logical_id}.Arn to "
                    "InvokeRegisteredWorkflows"
                )
        problems += _iam_problems(logical_id, resource, settings.id, set(settings.bindings))
    ids = [e.id for e in registry]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"{TEMPLATE}: workflow id '{duplicate}' is registered more than once in CLAIMFLOW_WORKFLOWS")
    return problems
