"""The IAM a workflow's bindings need, as template.yaml writes it: the statements come from
each binding's row of ``claimflow.bindings.BINDINGS`` (paths from ``SsmPaths``); this module
only spells them the template's way. ``claimflow new`` writes them; ``claimflow check``
holds the template to them."""

from __future__ import annotations

from collections.abc import Iterable

from claimflow.binding_table import BINDINGS, IamStatement
from claimflow.environment import DEFAULT_SSM_PREFIX, SsmPaths

__all__ = ["TEMPLATE_PATHS", "required_statements", "ssm_arn", "statements_yaml"]

#: The SSM paths as template.yaml names them (the stage is the Stage parameter).
TEMPLATE_PATHS = SsmPaths(stage="${Stage}", prefix=DEFAULT_SSM_PREFIX)


def ssm_arn(path: str) -> str:
    """The ``!Sub`` text of an SSM parameter path's ARN."""
    return f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{path}"


def required_statements(workflow_id: str, bindings: Iterable[str]) -> list[tuple[str, IamStatement]]:
    """(binding, statement) for what a workflow declaring ``bindings`` needs, in the table's order."""
    declared = set(bindings)
    return [
        (name, statement)
        for name, spec in BINDINGS.items()
        if name in declared
        for statement in spec.statements(workflow_id, TEMPLATE_PATHS)
    ]


def statements_yaml(statements: list[IamStatement], *, indent: int = 12) -> str:
    """The statements as items of a ``Policies: - Statement:`` list in template.yaml."""
    pad = " " * indent
    lines: list[str] = []
    for statement in statements:
        lines += [f"{pad}- Sid: {statement.sid}", f"{pad}  Effect: Allow", f"{pad}  Action: {statement.action}"]
        if len(statement.resources) == 1:
            lines.append(f"{pad}  Resource: !Sub {ssm_arn(statement.resources[0])}")
        else:
            lines.append(f"{pad}  Resource:")
            lines += [f"{pad}    - !Sub {ssm_arn(path)}" for path in statement.resources]
    return "\n".join(lines)
