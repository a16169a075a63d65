"""Where a workflow reads a fetch result's data without looking at its status, read from its
source (no import, no run), for ``claimflow check``.

With the seed's semantics every HTTP status is data: ``fetch(url).data.get("flag") or False``
turns a third party's 401 or 500 (with a JSON body) into a wrong claim that the issuer reports
``ok``. A read is fine when the same function looks at the result's status (``.status``,
``.ok``, ``["status"]``, ``.raise_for_status()``) or the call raises on one
(``raise_for_status=True``, the option ``raiseForStatus``). Both spellings (``fetch``,
``secure_fetch``/``secureFetch``), ``await`` or not. A result passed elsewhere is not followed:
this finds the common case early, the issuer's ``fetch_errors`` report stays the backstop.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

__all__ = ["unchecked_data_reads"]

_FETCH_FUNCTIONS = frozenset({"fetch", "secure_fetch", "secureFetch"})
_RAISE_OPTIONS = frozenset({"raise_for_status", "raiseForStatus"})
_STATUS_ATTRIBUTES = frozenset({"status", "ok", "raise_for_status"})
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef)


def _is_true(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _unchecked_fetch(node: ast.AST) -> bool:
    """``node`` is a fetch call (awaited or not) that returns whatever the status."""
    if isinstance(node, ast.Await):
        node = node.value
    if not isinstance(node, ast.Call):
        return False
    function = node.func
    name = function.id if isinstance(function, ast.Name) else function.attr if isinstance(function, ast.Attribute) else ""
    if name not in _FETCH_FUNCTIONS:
        return False
    if any(k.arg in _RAISE_OPTIONS and _is_true(k.value) for k in node.keywords):
        return False
    for options in (a for a in node.args if isinstance(a, ast.Dict)):
        for key, value in zip(options.keys, options.values, strict=True):
            if isinstance(key, ast.Constant) and key.value in _RAISE_OPTIONS and _is_true(value):
                return False
    return True


def _key(node: ast.Subscript) -> object:
    return node.slice.value if isinstance(node.slice, ast.Constant) else None


def _reads(node: ast.AST, what: str) -> ast.AST | None:
    """The object ``node`` reads ``what`` of (``x.data``, ``x["data"]``), or None."""
    if isinstance(node, ast.Attribute) and node.attr == what:
        return node.value
    if isinstance(node, ast.Subscript) and _key(node) == what:
        return node.value
    return None


def _looks_at_status(node: ast.AST) -> ast.AST | None:
    if isinstance(node, ast.Attribute) and node.attr in _STATUS_ATTRIBUTES:
        return node.value
    if isinstance(node, ast.Subscript) and _key(node) in ("status", "ok"):
        return node.value
    return None


def _own_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """The nodes of one function (or the module), not those of the functions inside it."""
    pending = list(ast.iter_child_nodes(scope))
    while pending:
        node = pending.pop()
        yield node
        if not isinstance(node, _SCOPES):
            pending.extend(ast.iter_child_nodes(node))


def _scan(scope: ast.AST) -> list[int]:
    lines: list[int] = []
    results: set[str] = set()  # names bound to a fetch result that does not raise
    data_reads: dict[str, list[int]] = {}
    checked: set[str] = set()
    nested: list[ast.AST] = []
    for node in _own_nodes(scope):
        if isinstance(node, _SCOPES):
            nested.append(node)
        elif isinstance(node, ast.Assign) and _unchecked_fetch(node.value):
            results |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        owner = _reads(node, "data")
        if owner is not None and isinstance(node, ast.expr):
            if _unchecked_fetch(owner):
                lines.append(node.lineno)  # fetch(...).data: nothing can look at the status
            elif isinstance(owner, ast.Name):
                data_reads.setdefault(owner.id, []).append(node.lineno)
        status_of = _looks_at_status(node)
        if isinstance(status_of, ast.Name):
            checked.add(status_of.id)
    lines += [min(data_reads[name]) for name in results - checked if name in data_reads]
    for function in nested:
        lines += _scan(function)
    return lines


def unchecked_data_reads(source: str | Path) -> list[int]:
    """The lines where the module reads a fetch result's data without looking at its status."""
    text = source.read_text() if isinstance(source, Path) else source
    return sorted(_scan(ast.parse(text)))
