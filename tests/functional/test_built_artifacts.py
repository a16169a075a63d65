"""Local runs run what deploys: the built layer and functions, through the runtime client. A
package missing from the layer's requirements.txt fails locally as it would in Lambda, even
though the development venv has it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from claimflow_local.stack.deployment import LocalDeployment
from tests.support import ROOT


def project_without(tmp_path: Path, requirement: str) -> Path:
    """A copy of this project whose layer's requirements.txt lacks ``requirement``."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("template.yaml", "samconfig.toml"):
        shutil.copy(ROOT / name, root / name)
    for folder in ("functions", "local", "events"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "layers", root / "layers", ignore=shutil.ignore_patterns("__pycache__"))
    requirements = root / "layers" / "claimflow" / "requirements.txt"
    kept = [line for line in requirements.read_text().splitlines() if not line.lower().startswith(requirement.lower())]
    requirements.write_text("\n".join(kept) + "\n")
    return root


def test_a_package_missing_from_the_layers_requirements_is_an_import_module_error_locally(tmp_path: Path) -> None:
    root = project_without(tmp_path, "PyJWT")
    with open(os.devnull, "w") as sink, LocalDeployment(root=root, log=sink, warm=False) as stack:
        response = stack.lambda_client().invoke(
            FunctionName="IssuerFunction", Payload=(root / "events" / "issuer.user-token.json").read_bytes()
        )
        body = json.loads(response["Payload"].read())
        assert response["FunctionError"] == "Unhandled"
        assert body["errorType"] == "Runtime.ImportModuleError"
        assert "No module named 'jwt'" in body["errorMessage"]
        # a workflow that does not need it still runs: the failure is the missing package, nothing else
        workflow = stack.lambda_client().invoke(
            FunctionName="AddThirdPartyDataToAccessTokenFunction",
            Payload=(root / "events" / "workflow.addThirdPartyDataToAccessToken.json").read_bytes(),
        )
        assert json.loads(workflow["Payload"].read())["outcome"] == "ok"
