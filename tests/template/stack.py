"""The translated template as one deployed stack would have it: parameters, conditions and
intrinsic functions resolved for a stage, with the names CloudFormation would give (roles are
``<stack>-<LogicalId>-<suffix>``). Enough to read the stack's IAM roles and key policies."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ACCOUNT", "REGION", "Role", "Stack"]

ACCOUNT = "123456789012"  # moto's account: the keys the code makes in moto's KMS live there
REGION = "us-east-1"
_NO_VALUE = object()


@dataclass(frozen=True)
class Role:
    logical_id: str
    arn: str
    statements: list[dict[str, Any]]  # every statement of its inline policies, resolved
    managed_policies: list[str]


class Stack:
    def __init__(self, template: Mapping[str, Any], *, name: str, parameters: Mapping[str, str]) -> None:
        self.template, self.name = template, name
        declared = template.get("Parameters", {})
        unknown = set(parameters) - set(declared)
        assert not unknown, f"not parameters of the template: {unknown}"
        self.parameters = {k: str(v.get("Default", "")) for k, v in declared.items()} | dict(parameters)
        self.resources: Mapping[str, Any] = {
            k: v for k, v in template["Resources"].items() if "Condition" not in v or self.condition(v["Condition"])
        }

    # --- names CloudFormation gives -------------------------------------------------------------

    def physical_id(self, logical_id: str) -> str:
        suffix = hashlib.sha256(f"{self.name}/{logical_id}".encode()).hexdigest()[:12].upper()
        return f"{self.name}-{logical_id}-{suffix}"

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{ACCOUNT}:role/{self.physical_id(logical_id)}"
        if kind == "AWS::KMS::Key":
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{self.physical_id(logical_id).lower()}"
        if kind == "AWS::Lambda::Function":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.physical_id(logical_id)}"
        return f"arn:aws:{kind.split('::')[1].lower()}:{REGION}:{ACCOUNT}:{self.physical_id(logical_id)}"

    def roles(self) -> list[Role]:
        found = []
        for logical_id, resource in self.resources.items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            properties = self.resolve(resource["Properties"])
            statements = [s for p in properties.get("Policies", []) for s in _listed(p["PolicyDocument"]["Statement"])]
            found.append(Role(logical_id, self.arn(logical_id), statements, properties.get("ManagedPolicyArns", [])))
        return found

    # --- conditions and intrinsic functions -------------------------------------------------------

    def condition(self, name: str) -> bool:
        return bool(self._evaluate(self.template["Conditions"][name]))

    def _evaluate(self, expression: Any) -> Any:
        if isinstance(expression, Mapping) and len(expression) == 1:
            ((key, arg),) = expression.items()
            if key == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if key == "Fn::Not":
                return not self._evaluate(arg[0])
            if key == "Fn::And":
                return all(self._evaluate(a) for a in arg)
            if key == "Fn::Or":
                return any(self._evaluate(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
        return self.resolve(expression)

    def resolve(self, value: Any) -> Any:
        resolved = self._resolve(value)
        return None if resolved is _NO_VALUE else resolved

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [r for r in (self._resolve(v) for v in value) if r is not _NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                resource, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._get_att(resource, attribute)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::If":
                name, then, otherwise = arg
                return self._resolve(then if self.condition(name) else otherwise)
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(i) for i in self._resolve(items))
            if key.startswith("Fn::"):
                raise NotImplementedError(f"{key} is not resolved here")
        return {k: r for k, r in ((k, self._resolve(v)) for k, v in value.items()) if r is not _NO_VALUE}

    def _ref(self, name: str) -> Any:
        pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": self.name}
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            kind = self.resources[name]["Type"]
            return self.arn(name) if kind in {"AWS::Lambda::Alias", "AWS::Lambda::Version"} else self.physical_id(name)
        raise KeyError(f"!Ref {name}: no such parameter or resource in this stack")

    def _get_att(self, resource: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(resource)
        return f"{self.physical_id(resource)}.{attribute}"

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(self._resolve(variables[name]))
            if "." in name and name.split(".", 1)[0] in self.resources:
                return self._get_att(*name.split(".", 1))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]
