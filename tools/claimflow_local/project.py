"""A claimflow project on disk: its template (read by ``SamTemplate``, the one reader) and its
workflow modules, imported as Lambda would so their settings validate. Shared by ``check``,
``new`` and ``preview``."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from typing import Any

from claimflow_local.template import SamTemplate

__all__ = ["Project"]

_counter = itertools.count()


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.template_path = self.root / "template.yaml"
        self.template = SamTemplate.load(self.template_path)

    def workflow_dirs(self) -> list[Path]:
        """functions/<dir>/app.py files that make a workflow handler (``create_handler``)."""
        return sorted(p.parent for p in (self.root / "functions").glob("*/app.py") if "create_handler(" in p.read_text())

    def load_settings(self, directory: Path) -> Any:
        """The module's WorkflowSettings (importing it validates them, as Lambda's import would)."""
        layer = str(self.root / "layers" / "claimflow")
        if layer not in sys.path:
            sys.path.insert(0, layer)
        spec = importlib.util.spec_from_file_location(f"claimflow_check_{next(_counter)}", directory / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.lambda_handler.workflow_settings  # set by create_handler, whatever the module names them
