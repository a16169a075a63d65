"""mkdocs hook: the reference pages generated from the code and the template.

``claimflow_local.docs_reference`` writes them; it needs the project's code and packages, so it
runs in the project's venv (``CLAIMFLOW_DOCS_PYTHON``, else ``.venv/bin/python``), not in the
docs tools' venv. Each build (and each rebuild of ``mkdocs serve``) runs it again: the pages
are never on disk, so they cannot go stale.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

_generated: dict[str, dict[str, str]] = {"pages": {}, "fragments": {}}


def _project_python(root: Path) -> str:
    python = os.environ.get("CLAIMFLOW_DOCS_PYTHON") or str(root / ".venv" / "bin" / "python")
    if not Path(python).exists():
        raise PluginError(f"the reference pages need the project's venv ({python}): run make docs or make docs-build")
    return python


def on_files(files: Files, config: Any) -> Files:
    root = Path(config["config_file_path"]).resolve().parent
    paths = [root / "layers" / "claimflow", root / "tools", root / "examples"]
    # No bytecode written: mkdocs serve watches the code, and a .pyc written would rebuild again.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in paths), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(  # our own module, in the project's venv
        [_project_python(root), "-m", "claimflow_local.docs_reference", "--root", str(root)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if run.returncode != 0:
        raise PluginError(f"generating the reference pages failed:\n{run.stderr.strip()}")
    _generated.update(json.loads(run.stdout))
    for path, text in _generated["pages"].items():
        files.append(File.generated(config, path, content=text))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    for name, text in _generated["fragments"].items():
        markdown = markdown.replace(f"<!-- generated:{name} -->", text)
    return markdown
