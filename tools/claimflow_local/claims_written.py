"""Which custom claims a workflow module sets, read from its source (no import, no run).

``claimflow check`` uses it to report two workflows on one trigger that write the same claim,
which the issuer otherwise reports only at run time, on every request. It reads what a
person would: a variable bound to a token's claims (``access_token = access_token_custom_claims()``,
or the seed's ``accessTokenCustomClaims()``), then ``access_token.name = ...``,
``access_token["name"] = ...`` and ``access_token.setdefault("name", ...)``. A name computed at
run time is not seen; this finds the common case early, the issuer's log stays the backstop.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

from claimflow.tokens import TOKENS, TokenKind

__all__ = ["claims_written"]

#: The functions that return a token's claims, by both spellings.
_CLAIM_FUNCTIONS: Mapping[str, TokenKind] = {
    name: kind for kind, spec in TOKENS.items() for name in (spec.function, spec.seed_function)
}


def _token_of_call(node: ast.AST) -> TokenKind | None:
    if not isinstance(node, ast.Call):
        return None
    function = node.func
    name = function.id if isinstance(function, ast.Name) else function.attr if isinstance(function, ast.Attribute) else None
    return _CLAIM_FUNCTIONS.get(name or "")


def _target_token(node: ast.AST, bound: Mapping[str, TokenKind]) -> TokenKind | None:
    """The token whose claims ``node`` is: a bound variable, or a direct call."""
    if isinstance(node, ast.Name):
        return bound.get(node.id)
    return _token_of_call(node)


def claims_written(source: str | Path) -> dict[TokenKind, set[str]]:
    """The claim names each token gets from the module's source."""
    text = source.read_text() if isinstance(source, Path) else source
    tree = ast.parse(text)
    bound: dict[str, TokenKind] = {}
    for node in ast.walk(tree):  # variables bound to a token's claims, anywhere in the module
        if isinstance(node, ast.Assign) and (kind := _token_of_call(node.value)) is not None:
            bound.update({t.id: kind for t in node.targets if isinstance(t, ast.Name)})
    written: dict[TokenKind, set[str]] = {}
    for node in ast.walk(tree):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and (kind := _target_token(target.value, bound)):
                written.setdefault(kind, set()).add(target.attr)
            elif (
                isinstance(target, ast.Subscript)
                and isinstance(target.slice, ast.Constant)
                and isinstance(target.slice.value, str)
                and (kind := _target_token(target.value, bound))
            ):
                written.setdefault(kind, set()).add(target.slice.value)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "setdefault"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (kind := _target_token(node.func.value, bound))
        ):
            written.setdefault(kind, set()).add(node.args[0].value)
    return written
