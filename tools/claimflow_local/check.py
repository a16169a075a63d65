"""``claimflow check``: the code and template.yaml must agree. One line per problem, naming
the file and the fix; exit status 1 when there is any."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from claimflow_local.project import Project

__all__ = ["find_problems"]


def _statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in resource.get("Properties", {}).get("Policies", []) or []:
        if isinstance(policy, dict):
            found += policy.get("Statement", [])
    return found


def _grants(resource: dict[str, Any], action: str) -> str:
    """Every resource string the function's inline policies grant ``action`` on."""
    text = []
    for statement in _statements(resource):
        actions = statement.get("Action", [])
        if action in (actions if isinstance(actions, list) else [actions]):
            text.append(json.dumps(statement.get("Resource")))
    return " ".join(text)


def _has_layer(project: Project, resource: dict[str, Any]) -> bool:
    layers = resource.get("Properties", {}).get("Layers")
    if layers is None:
        layers = project.template.get("Globals", {}).get("Function", {}).get("Layers", [])
    return {"Ref": "ClaimflowLayer"} in layers


def find_problems(root: Path) -> list[str]:
    project = Project(root)
    problems: list[str] = []
    template = "template.yaml"
    functions = project.functions()
    registry = project.registry()
    by_function = {registered.function: registered for registered in registry}
    seen_ids: dict[str, str] = {}

    for registered in registry:
        if registered.function not in functions:
            problems.append(
                f"{template}: registry entry '{registered.id}' names function {registered.function}, which the template "
                f"does not define — add the function resource or remove the entry from CLAIMFLOW_WORKFLOWS"
            )
    invoke = _grants(functions.get("IssuerFunction", {}), "lambda:InvokeFunction")
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
        logical_id = project.logical_id_for(directory)
        if logical_id is None:
            problems.append(
                f"{where}: no function resource in {template} has CodeUri {directory.relative_to(project.root)}/ "
                "— add one (claimflow new writes it)"
            )
            continue
        resource = functions[logical_id]
        if not _has_layer(project, resource):
            problems.append(f"{template}: {logical_id} does not have the ClaimflowLayer — add it to its Layers (or Globals)")
        entry = by_function.get(logical_id)
        if entry is None:
            problems.append(
                f"{template}: {logical_id} ('{settings.id}') is not in the issuer's CLAIMFLOW_WORKFLOWS — register it"
            )
        else:
            for field, code_value in (
                ("id", settings.id),
                ("trigger", settings.workflow_trigger.value),
                ("failure_policy", settings.policy.value),
            ):
                if getattr(entry, field) != code_value:
                    problems.append(
                        f"{template}: registry entry for {logical_id} has {field} '{getattr(entry, field)}' but "
                        f"{where} declares '{code_value}' — make them equal"
                    )
            if f'"{logical_id}"' not in invoke:
                problems.append(
                    f"{template}: IssuerFunction may not invoke {logical_id} — add !GetAtt {logical_id}.Arn to "
                    "InvokeRegisteredWorkflows"
                )
        bindings = {str(b) for b in settings.bindings}
        by_path = _grants(resource, "ssm:GetParametersByPath")
        if "kinde.env" in bindings:
            for path in ("parameter/claimflow/${Stage}/env", f"parameter/claimflow/${{Stage}}/workflows/{settings.id}/env"):
                if path not in by_path:
                    problems.append(
                        f"{template}: {logical_id} binds kinde.env but may not ssm:GetParametersByPath on "
                        f"{path.removeprefix('parameter')} — add it to the function's Policies"
                    )
        elif by_path:
            problems.append(f"{template}: {logical_id} may read SSM env paths but binds no kinde.env — remove the grant")
        if "kinde.secureFetch" in bindings:
            key = f"parameter/claimflow/${{Stage}}/workflows/{settings.id}/secure-fetch-key"
            if key not in _grants(resource, "ssm:GetParameter"):
                problems.append(
                    f"{template}: {logical_id} binds kinde.secureFetch but may not ssm:GetParameter on "
                    f"{key.removeprefix('parameter')} — add it to the function's Policies"
                )
    ids = [e.id for e in registry]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"{template}: workflow id '{duplicate}' is registered more than once in CLAIMFLOW_WORKFLOWS")
    return problems
