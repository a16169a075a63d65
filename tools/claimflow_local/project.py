"""What a claimflow project is made of, read from disk: template.yaml's functions, the
issuer's workflow registry, and each workflow module's settings. Shared by ``check``,
``new`` and ``preview``."""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from claimflow_local.template import _Loader

_counter = itertools.count()


@dataclass(frozen=True)
class RegistryEntry:
    id: str
    trigger: str
    function: str  # logical id
    failure_policy: str


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.template_path = self.root / "template.yaml"
        with self.template_path.open() as handle:
            self.template: dict[str, Any] = yaml.load(handle, Loader=_Loader)  # noqa: S506 - SafeLoader subclass

    @property
    def resources(self) -> dict[str, Any]:
        return self.template.get("Resources", {})  # type: ignore[no-any-return]

    def functions(self) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == "AWS::Serverless::Function"}

    def code_dir(self, logical_id: str) -> Path:
        return (self.root / str(self.functions()[logical_id]["Properties"]["CodeUri"])).resolve()

    def registry(self) -> list[RegistryEntry]:
        variables = self.functions().get("IssuerFunction", {}).get("Properties", {}).get("Environment", {}).get("Variables", {})
        raw = variables.get("CLAIMFLOW_WORKFLOWS", {})
        text = raw.get("Fn::Sub", "[]") if isinstance(raw, dict) else str(raw)
        entries = json.loads(text)
        result = []
        for entry in entries:
            match = re.fullmatch(r"\$\{(\w+)\}", str(entry.get("function", "")))
            result.append(
                RegistryEntry(
                    entry.get("id", ""),
                    entry.get("trigger", ""),
                    match.group(1) if match else entry.get("function", ""),
                    entry.get("failure_policy", "stop"),
                )
            )
        return result

    def workflow_dirs(self) -> list[Path]:
        """functions/<dir>/app.py files that declare workflow_settings."""
        return sorted(p.parent for p in (self.root / "functions").glob("*/app.py") if "workflow_settings" in p.read_text())

    def load_settings(self, directory: Path) -> Any:
        """The module's WorkflowSettings (importing it validates them, as Lambda's import would)."""
        layer = str(self.root / "layers" / "claimflow")
        if layer not in sys.path:
            sys.path.insert(0, layer)
        spec = importlib.util.spec_from_file_location(f"claimflow_check_{next(_counter)}", directory / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.workflow_settings

    def logical_id_for(self, directory: Path) -> str | None:
        for logical_id in self.functions():
            if self.code_dir(logical_id) == directory.resolve():
                return logical_id
        return None
