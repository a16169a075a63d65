"""The versioned wire contracts: their names, JSON Schema validation, the outcomes a workflow
reports and the per-workflow report the issuer returns.

Schemas live next to this module (``schemas/*.json``) and are compiled once per container on
first use; tests validate every sample and every reply against the same files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Final, NotRequired, TypedDict

from claimflow.errors import ContractError

__all__ = [
    "TOKEN_REPLY",
    "TOKEN_REQUEST",
    "WORKFLOW_INVOCATION",
    "Outcome",
    "WorkflowReport",
    "event_shape",
    "schema_path",
    "structural_problem",
    "validate",
]

WORKFLOW_INVOCATION: Final = "claimflow.workflow-invocation/v1"
TOKEN_REQUEST: Final = "claimflow.token-request/v1"
TOKEN_REPLY: Final = "claimflow.token-reply/v1"


class Outcome(StrEnum):
    """How one workflow run ended; the wire value of a reply's ``outcome``."""

    OK = "ok"
    DENIED = "denied"
    FAILED = "failed"


class WorkflowReport(TypedDict):
    """One workflow's line in the issuer's report (token reply ``workflows[]``)."""

    id: str
    outcome: str
    duration_ms: float
    failure_policy: str
    error: NotRequired[str]
    reason: NotRequired[str]


SCHEMA_DIR: Final = Path(__file__).parent / "schemas"
SCHEMAS: Final = (
    "workflow-invocation-request.v1",
    "workflow-invocation-reply.v1",
    "token-request.v1",
    "token-reply.v1",
)


def schema_path(name: str) -> Path:
    if name not in SCHEMAS:
        raise KeyError(f"no contract schema named {name!r}; known: {', '.join(SCHEMAS)}")
    return SCHEMA_DIR / f"{name}.json"


@cache
def event_shape(trigger: str) -> Mapping[str, Any]:
    """The JSON Schema of the seed event a workflow on ``trigger`` receives: the fields it may hold."""
    definitions = json.loads(schema_path("workflow-invocation-request.v1").read_text())["definitions"]
    for shape in definitions.values():
        workflow = shape.get("properties", {}).get("context", {}).get("properties", {}).get("workflow", {})
        if workflow.get("properties", {}).get("trigger", {}).get("const") == trigger:
            return shape  # type: ignore[no-any-return]
    raise KeyError(f"the invocation schema has no event for trigger {trigger!r}")


@cache
def _validator(name: str) -> Callable[[Any], Any]:
    import fastjsonschema  # compiled once per container, only where a contract is checked

    schema = json.loads(schema_path(name).read_text())
    return fastjsonschema.compile(schema)  # type: ignore[no-any-return]


MAX_DEPTH: Final = 32


def _not_unicode(text: str) -> bool:
    if text.isascii():  # nearly every string: no encode needed
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return True
    return False


def structural_problem(node: Any, *, max_depth: int = MAX_DEPTH, depth: int = 1) -> str | None:
    """What no schema keyword catches: nesting deeper than ``max_depth``, strings that are not
    Unicode. The recursion stops at ``max_depth``, so a hostile value cannot exhaust the stack.
    Contracts use it on whole documents, claims on each value."""
    if isinstance(node, str):
        return f"holds a string that is not valid Unicode ({node[:32]!r})" if _not_unicode(node) else None
    if isinstance(node, dict):
        children: Any = node.values()
        for key in node:
            if isinstance(key, str) and _not_unicode(key):
                return f"holds a name that is not valid Unicode ({key[:32]!r})"
    elif isinstance(node, list):
        children = node
    else:
        return None
    if depth > max_depth:
        return f"is nested deeper than {max_depth} levels"
    for child in children:
        if isinstance(child, (dict, list, str)):
            problem = structural_problem(child, max_depth=max_depth, depth=depth + 1)
            if problem:
                return problem
    return None


def validate(name: str, document: Any, *, error: type[ContractError] = ContractError) -> Mapping[str, Any]:
    """Check ``document`` against contract schema ``name``; raise ``error`` naming the field."""
    import fastjsonschema

    problem = structural_problem(document)
    if problem:
        raise error(f"request {problem} (contract {name})")
    try:
        _validator(name)(document)
    except fastjsonschema.JsonSchemaValueException as invalid:
        where = invalid.name.replace("data", "request", 1) if invalid.name else "request"
        message = invalid.message.replace(invalid.name or "data", where, 1)
        raise error(f"{message} (contract {name})") from None
    return document  # type: ignore[no-any-return]
