"""A small IAM policy evaluator: enough of AWS's documented evaluation logic to decide the
KMS requests a stack's roles can make, from the policies template.yaml and the code write.

What it covers (and refuses, loudly, what it does not): Allow and Deny; Action/NotAction with
``*`` and ``?`` (case-insensitive); Resource/NotResource patterns; Principal in key policies
(a role, the account principal, ``*``); the condition operators the policies use (String*,
Arn*, Bool, Null, ``...IfExists``, ``ForAllValues:``/``ForAnyValue:``); and KMS's rule that an
IAM policy counts only if the key policy lets the account delegate (the account principal).
References: IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements:
Condition operators"; AWS KMS Developer Guide, "Key policies" and "ABAC for AWS KMS".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Request", "kms_allows", "statement_applies", "statements_of"]

Statement = Mapping[str, Any]


@dataclass(frozen=True)
class Request:
    """One authorization: who asks, for what action, on what resource, with what context."""

    principal: str  # the role's ARN
    action: str  # e.g. "kms:Sign"
    resource: str  # an ARN, or "*" for an action on no resource
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)  # condition key -> values

    def values(self, key: str) -> tuple[str, ...] | None:
        for name, values in self.context.items():
            if name.lower() == key.lower():  # condition key names are case-insensitive
                return tuple(values)
        return None


def statements_of(policy: Mapping[str, Any]) -> list[Statement]:
    found = policy.get("Statement", [])
    return list(found) if isinstance(found, list) else [found]


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    if "${" in pattern:
        raise NotImplementedError(f"policy variables are not evaluated here: {pattern}")
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=(re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL) is not None


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike: each of the six colon-separated parts is matched on its own."""
    if pattern == "*":
        return True
    wanted, given = pattern.split(":", 5), value.split(":", 5)
    return len(wanted) == len(given) == 6 and all(_glob(w, g) for w, g in zip(wanted, given, strict=True))


def _string(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


_MATCHERS = {
    "StringEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": lambda p, v: _glob(p, v),
    "ArnEquals": lambda p, v: p == v,
    "ArnLike": _arn_like,
    "Bool": lambda p, v: p.lower() == v.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _condition_holds(operator: str, key: str, wanted: list[str], request: Request) -> bool:
    given = request.values(key)
    if operator == "Null":  # "true": the key is absent; "false": it is present
        (want,) = wanted
        return (given is None or given == ()) == (want.lower() == "true")
    quantifier, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    negated = operator in _NEGATED
    base = _NEGATED.get(operator, operator)
    if base not in _MATCHERS:
        raise NotImplementedError(f"condition operator {operator} is not evaluated here")
    match = _MATCHERS[base]

    def satisfies(value: str) -> bool:
        hit = any(match(p, value) for p in wanted)
        return not hit if negated else hit

    if quantifier == "ForAllValues":
        return all(satisfies(v) for v in given or ())
    if quantifier == "ForAnyValue":
        return any(satisfies(v) for v in given or ())
    if quantifier:
        raise NotImplementedError(f"set operator {quantifier} is not evaluated here")
    if given is None:  # a missing key: no match, except for negated operators and ...IfExists
        return if_exists or negated
    return all(satisfies(v) for v in given) if negated else any(satisfies(v) for v in given)


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], request: Request) -> bool:
    return all(
        _condition_holds(operator, key, [_string(v) for v in _listed(values)], request)
        for operator, block in conditions.items()
        for key, values in block.items()
    )


def statement_applies(statement: Statement, request: Request) -> bool:
    """Action, resource and conditions all match (the principal is the caller's to check)."""
    if "Action" in statement:
        acts = any(_glob(p, request.action, ignore_case=True) for p in _listed(statement["Action"]))
    else:
        acts = not any(_glob(p, request.action, ignore_case=True) for p in _listed(statement["NotAction"]))
    if "Resource" in statement:
        on = any(_glob(p, request.resource) for p in _listed(statement["Resource"]))
    else:
        on = not any(_glob(p, request.resource) for p in _listed(statement["NotResource"]))
    return acts and on and _conditions_hold(statement.get("Condition", {}), request)


def _principals(statement: Statement) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if not isinstance(principal, Mapping) or set(principal) - {"AWS", "Service"}:
        raise NotImplementedError(f"key policy principal {principal!r} is not evaluated here")
    return [str(p) for p in _listed(principal.get("AWS", []))]


def _account_principal(role_arn: str) -> tuple[str, str]:
    partition, account = role_arn.split(":")[1], role_arn.split(":")[4]
    return f"arn:{partition}:iam::{account}:root", account


def kms_allows(request: Request, *, identity: Sequence[Statement], key_policy: Mapping[str, Any] | None) -> bool:
    """Whether KMS allows ``request`` by a role whose IAM statements are ``identity``, on a key
    whose policy is ``key_policy`` (None: an action on no key, such as CreateKey, which only IAM
    decides). An explicit deny anywhere wins; otherwise the key policy must allow the role
    itself, or allow the account principal (which lets IAM decide) while IAM allows."""
    account_arn, account_id = _account_principal(request.principal)
    iam_denies = any(s["Effect"] == "Deny" and statement_applies(s, request) for s in identity)
    iam_allows = any(s["Effect"] == "Allow" and statement_applies(s, request) for s in identity)
    if key_policy is None:
        return iam_allows and not iam_denies
    directly, delegated, denied = False, False, iam_denies
    for statement in statements_of(key_policy):
        principals = _principals(statement)
        names_role = "*" in principals or request.principal in principals
        names_account = account_arn in principals or account_id in principals
        if not (names_role or names_account) or not statement_applies(statement, request):
            continue
        if statement["Effect"] == "Deny":
            denied = True
        elif names_role:
            directly = True
        else:
            delegated = True
    return not denied and (directly or (delegated and iam_allows))
