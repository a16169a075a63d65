"""The per-workflow template block, from one source: ``workflow.yaml`` beside this module.

Every workflow in template.yaml has the same resources (its function, log group, errors,
failures and p99 alarms), a registry entry and an invoke grant in the issuer, an Output, and
the IAM its bindings need (from ``claimflow.bindings.BINDINGS``). ``render_block`` fills the
source in for one workflow: ``claimflow new`` pastes the rendered text into template.yaml,
``claimflow check`` compares each workflow's resources with the parsed render, and a test holds
template.yaml's own workflows to it, resource by resource.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimflow.binding_table import BINDINGS
from claimflow_local.iam import TEMPLATE_PATHS, required_statements, statements_yaml
from claimflow_local.template import load_yaml

__all__ = ["SOURCE", "SOURCE_NAME", "WorkflowBlock", "render_block"]

SOURCE = Path(__file__).with_name("workflow.yaml")
#: How messages name the source (the folder tools/ is on PYTHONPATH).
SOURCE_NAME = "tools/claimflow_local/scaffold/workflow.yaml"


class _Source(string.Template):
    delimiter = "@"  # ${...} stays CloudFormation's (!Sub)


def _policies(workflow_id: str, bindings: Iterable[str]) -> str:
    """The function's ``Policies``: what its bindings need, and nothing when they need nothing."""
    statements = [statement for _, statement in required_statements(workflow_id, bindings)]
    if statements:
        return "      Policies:\n        - Statement:\n" + statements_yaml(statements)
    with_iam = [name for name, spec in BINDINGS.items() if spec.statements(workflow_id, TEMPLATE_PATHS)]
    return f"      # Binds none of {', '.join(with_iam)}: no AWS access at all."


@dataclass(frozen=True)
class WorkflowBlock:
    """One workflow's block, rendered: as text (to paste) and parsed (to compare)."""

    logical_id: str
    text: str
    document: Mapping[str, Any]

    @property
    def resources(self) -> Mapping[str, Any]:
        """Logical id -> resource: the function, its log group and its alarms."""
        return self.document["Resources"]  # type: ignore[no-any-return]

    @property
    def outputs(self) -> Mapping[str, Any]:
        return self.document["Outputs"]  # type: ignore[no-any-return]

    @property
    def registry_entry(self) -> Mapping[str, Any]:
        """Its entry in the issuer's ``CLAIMFLOW_WORKFLOWS`` (``function`` as ``${LogicalId}:live``)."""
        return json.loads(self.document["Registry"])  # type: ignore[no-any-return]

    @property
    def invoke_grant(self) -> list[Any]:
        """Its items in the issuer's ``InvokeRegisteredWorkflows`` statement."""
        return list(self.document["InvokeRegisteredWorkflows"])

    def section(self, key: str) -> str:
        """The rendered lines under a top-level key, as written (``Resources``, ``Registry``, ...)."""
        lines = self.text.splitlines(keepends=True)
        start = lines.index(f"{key}:\n") if f"{key}:\n" in lines else lines.index(f"{key}: |\n")
        end = next((i for i in range(start + 1, len(lines)) if lines[i][:1] not in ("", " ", "\n")), len(lines))
        return "".join(lines[start + 1 : end]).strip("\n") + "\n"

    def source_of(self, name: str) -> str:
        """How the source spells one of the block's resources (``@{logical_id}P99Alarm``)."""
        return name.replace(self.logical_id, "@{logical_id}", 1)


def render_block(
    *,
    workflow_id: str,
    logical_id: str,
    code_uri: str,
    trigger: str,
    failure_policy: str,
    bindings: Iterable[str],
    description: str | None = None,
) -> WorkflowBlock:
    """The block of workflow ``workflow_id``, function ``logical_id`` with its code at ``code_uri``
    (``functions/<dir>/``); its log group is named for that folder."""
    bindings = list(bindings)
    folder = code_uri.strip("/").rsplit("/", 1)[-1]
    text = _Source(SOURCE.read_text()).substitute(
        workflow_id=workflow_id,
        logical_id=logical_id,
        code_uri=code_uri,
        description=json.dumps(description if description is not None else f"workflow {workflow_id}"),
        log_name=folder.replace("_", "-"),
        trigger=trigger,
        failure_policy=failure_policy,
        policies=_policies(workflow_id, bindings),
    )
    return WorkflowBlock(logical_id=logical_id, text=text, document=load_yaml(text))
