"""The one reader of ``template.yaml``, as ``sam local`` reads it: functions, their code and
layer paths, handlers, timeouts, memory and environment, with intrinsics resolved for a local
run; and the issuer's workflow registry. The emulator, ``claimflow check``, ``new`` and
``preview`` all read the template here, and ``load_yaml`` reads the per-workflow block
(``claimflow_local.scaffold``) as it reads the template.

Function names are logical ids (as in ``sam local``); ``!GetAtt X.Arn`` becomes a local ARN;
``!GetAtt XUrl.FunctionUrl`` becomes the loopback URL the emulator serves for X.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ISSUER", "FunctionSpec", "RegistryEntry", "SamTemplate", "TemplateError", "load_yaml"]

REGION = "us-east-1"
ACCOUNT = "123456789012"
ISSUER = "IssuerFunction"  # the logical id of the issuer, whose environment holds the registry
REGISTRY_VARIABLE = "CLAIMFLOW_WORKFLOWS"


class TemplateError(Exception):
    """template.yaml uses something the local emulator cannot resolve."""


class _Loader(yaml.SafeLoader):
    pass


def _intrinsic(name: str):  # type: ignore[no-untyped-def]
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            assert isinstance(node, yaml.MappingNode)
            value = loader.construct_mapping(node, deep=True)
        return {"Ref" if name == "Ref" else name: value}

    return construct


for _tag in (
    "Ref",
    "Sub",
    "GetAtt",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Join",
    "Select",
    "Split",
    "FindInMap",
    "Base64",
    "ImportValue",
    "Condition",
):
    _full = "Ref" if _tag == "Ref" else ("Condition" if _tag == "Condition" else f"Fn::{_tag}")
    _Loader.add_constructor(f"!{_tag}", _intrinsic(_full))


def load_yaml(text: str) -> Any:
    """Template YAML as CloudFormation reads it: ``!Ref X`` is ``{"Ref": "X"}``, ``!GetAtt X.Arn``
    is ``{"Fn::GetAtt": ["X", "Arn"]}`` (the long form of every short-form tag)."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as error:
        raise TemplateError(f"not a template's YAML: {error}") from error


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    runtime: str
    timeout: float
    memory_mb: int
    environment: Mapping[str, str]
    function_url: bool = False
    alias: str | None = None  # AutoPublishAlias: the qualifier invocations may name besides $LATEST

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.name}"


@dataclass(frozen=True)
class RegistryEntry:
    """One workflow in the issuer's registry, with its function as a logical id."""

    id: str
    trigger: str
    function: str
    failure_policy: str
    timeout_ms: int
    #: The alias (or version) the entry invokes (``"${X}:live"``), as deployments need; None: $LATEST.
    qualifier: str | None = None


@dataclass
class SamTemplate:
    path: Path
    document: Mapping[str, Any]
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)
    #: Function URLs the emulator serves, by function; filled in once its servers are bound.
    function_urls: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, *, parameter_overrides: Mapping[str, str] | None = None) -> SamTemplate:
        document = load_yaml(path.read_text())
        return cls(path=path, document=document, parameter_overrides=dict(parameter_overrides or {}))

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def resources(self) -> Mapping[str, Any]:
        return self.document.get("Resources", {})  # type: ignore[no-any-return]

    def parameters(self) -> dict[str, str]:
        values = {name: str(spec.get("Default", "")) for name, spec in self.document.get("Parameters", {}).items()}
        for name, value in self.parameter_overrides.items():
            if name not in values:
                raise TemplateError(f"parameter override {name} is not a parameter of {self.path.name}")
            values[name] = value
        return values

    # --- intrinsic functions -------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                return self._get_att(*arg)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::If":
                condition, then, otherwise = arg
                return self.resolve(then if self._condition(condition) else otherwise)
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(self.resolve(i)) for i in self.resolve(items))
            if key == "Fn::Split":
                separator, text = arg
                return str(self.resolve(text)).split(separator)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported by the local emulator")
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::StackName": "claimflow-local",
            "AWS::NoValue": "",
        }
        if name in pseudo:
            return pseudo[name]
        parameters = self.parameters()
        if name in parameters:
            return parameters[name]
        if name in self.resources:
            return name  # a function's name is its logical id locally, as in sam local
        if name.endswith(".Alias") and name.removesuffix(".Alias") in self.resources:
            return self._get_att(name.removesuffix(".Alias"), "Alias")
        raise TemplateError(f"!Ref {name}: no such parameter or resource")

    def _get_att(self, resource: str, attribute: str) -> str:
        if attribute == "Arn" and resource in self.resources:
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{resource}"
        if attribute == "Alias" and resource in self.resources:
            alias = self.alias_of(resource)
            if alias is None:
                raise TemplateError(f"{resource}.Alias: the function has no AutoPublishAlias")
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{resource}:{alias}"
        if attribute == "FunctionUrl" and resource.endswith("Url"):
            target = self.resources.get(resource, {}).get("Properties", {}).get("TargetFunctionArn")
            function = str(target.get("Ref", "")).removesuffix(".Alias") if isinstance(target, dict) else resource[: -len("Url")]
            if function in self.function_urls:
                return self.function_urls[function]
            return f"http://127.0.0.1/{function}/"  # not served in this run
        raise TemplateError(f"!GetAtt {resource}.{attribute} is not supported by the local emulator")

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name:
                return self._get_att(*name.split(".", 1))
            return self._ref(name)

        return re.sub(r"\$\{([^}!][^}]*)\}", replace, text)

    def _condition(self, name: str) -> bool:
        return bool(self._evaluate(self.document.get("Conditions", {})[name]))

    def _evaluate(self, expression: Any) -> Any:
        if isinstance(expression, dict) and len(expression) == 1:
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
                return self._condition(arg)
        return self.resolve(expression)

    # --- functions -----------------------------------------------------------------------------

    def function_resources(self) -> dict[str, Mapping[str, Any]]:
        """The template's function resources as written (logical id -> resource)."""
        return {k: v for k, v in self.resources.items() if v.get("Type") == "AWS::Serverless::Function"}

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs as they would resolve (those whose condition holds; None for a
        value only CloudFormation knows, such as a distribution's domain)."""
        values: dict[str, Any] = {}
        for name, output in self.document.get("Outputs", {}).items():
            if "Condition" in output and not self._condition(output["Condition"]):
                continue
            try:
                values[name] = self.resolve(output["Value"])
            except TemplateError:
                values[name] = None
        return values

    def url_functions(self) -> list[str]:
        """The functions that have a Function URL: ``FunctionUrlConfig``, or an ``AWS::Lambda::Url``
        whose condition holds (the issuer's claims hooks)."""
        named = [k for k, v in self.function_resources().items() if "FunctionUrlConfig" in v.get("Properties", {})]
        for resource in self.resources.values():
            if resource.get("Type") != "AWS::Lambda::Url":
                continue
            if "Condition" in resource and not self._condition(resource["Condition"]):
                continue
            target = resource["Properties"]["TargetFunctionArn"]
            function = str(target.get("Ref", "")).removesuffix(".Alias") or (target.get("Fn::GetAtt") or [""])[0]
            if function and function not in named:
                named.append(function)
        return named

    def code_dir(self, logical_id: str) -> Path:
        return (self.root / str(self.function_resources()[logical_id]["Properties"]["CodeUri"])).resolve()

    def logical_id_for(self, directory: Path) -> str | None:
        """The function whose CodeUri is ``directory``."""
        return next((k for k in self.function_resources() if self.code_dir(k) == directory.resolve()), None)

    def registry(self) -> list[RegistryEntry]:
        """The issuer's workflow registry, functions named by logical id."""
        issuer = self.function_resources().get(ISSUER, {})
        raw = issuer.get("Properties", {}).get("Environment", {}).get("Variables", {}).get(REGISTRY_VARIABLE, "[]")
        # ${X} names function X's logical id (its name under sam local), even where X is missing,
        # so that `claimflow check` can say so.
        text = raw.get("Fn::Sub", "[]") if isinstance(raw, dict) else str(raw)

        # "${X}:live" invokes function X's alias live (a name Lambda, sam local and the emulator all take).
        def name(match: re.Match[str]) -> str:
            return self._ref(match[1]) if match[1] in self.parameters() else match[1]

        entries = json.loads(re.sub(r"\$\{(\w+)\}", name, text))
        return [
            RegistryEntry(
                id=str(entry.get("id", "")),
                trigger=str(entry.get("trigger", "")),
                function=str(entry.get("function", "")).partition(":")[0],
                failure_policy=str(entry.get("failure_policy", "stop")),
                timeout_ms=int(entry.get("timeout_ms", 2000)),
                qualifier=str(entry.get("function", "")).partition(":")[2] or None,
            )
            for entry in entries
        ]

    def alias_of(self, logical_id: str) -> str | None:
        """The alias every deploy points at the function's new version (``AutoPublishAlias``)."""
        resource = self.function_resources().get(logical_id, {})
        globals_ = self.document.get("Globals", {}).get("Function", {})
        alias = resource.get("Properties", {}).get("AutoPublishAlias", globals_.get("AutoPublishAlias"))
        return None if alias is None else str(self.resolve(alias))

    def functions(self) -> dict[str, FunctionSpec]:
        globals_ = self.document.get("Globals", {}).get("Function", {})
        specs: dict[str, FunctionSpec] = {}
        for name, resource in self.function_resources().items():
            props = {**globals_, **resource.get("Properties", {})}
            env = {
                **globals_.get("Environment", {}).get("Variables", {}),
                **resource.get("Properties", {}).get("Environment", {}).get("Variables", {}),
            }
            layers = [self.resolve(layer) for layer in props.get("Layers", [])]
            specs[name] = FunctionSpec(
                name=name,
                handler=props["Handler"],
                code_dir=(self.root / props["CodeUri"]).resolve(),
                layer_dirs=tuple(self._layer_dir(layer) for layer in layers),
                runtime=self.resolve(props.get("Runtime", "python3.12")),
                timeout=float(self.resolve(props.get("Timeout", 3))),
                memory_mb=int(self.resolve(props.get("MemorySize", 128))),
                environment={k: str(self.resolve(v)) for k, v in env.items()},
                function_url="FunctionUrlConfig" in props,
                alias=self.alias_of(name),
            )
        return specs

    def _layer_dir(self, layer: str) -> Path:
        resource = self.resources.get(layer)
        if resource is None or resource.get("Type") != "AWS::Serverless::LayerVersion":
            raise TemplateError(f"layer {layer} is not a LayerVersion of this template")
        return (self.root / str(resource["Properties"]["ContentUri"])).resolve()
