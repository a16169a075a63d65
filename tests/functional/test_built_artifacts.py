"""Local runs run what deploys: the built layer and functions, through the runtime client. A
package missing from the layer's requirements.txt fails locally as it would in Lambda, even
though the development venv has it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from claimflow_local.stack.deployment import LocalDeployment
from tests.support import ROOT


def project_copy(tmp_path: Path) -> Path:
    """A copy of this project's sources, to build and run on its own."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("template.yaml", "samconfig.toml"):
        shutil.copy(ROOT / name, root / name)
    for folder in ("functions", "local", "events", "layers"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def project_without(tmp_path: Path, requirement: str) -> Path:
    """A copy of this project whose layer's requirements.txt lacks ``requirement``."""
    root = project_copy(tmp_path)
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


def test_a_rebuild_while_a_stack_runs_leaves_what_its_functions_run_as_it_was(tmp_path: Path) -> None:
    """`make dev` in one terminal, `make demo` or `make test` in another: their `sam build` deletes
    and rewrites .aws-sam/build while the first stack's sandboxes may still be starting."""
    root = project_copy(tmp_path)
    with open(os.devnull, "w") as sink, LocalDeployment(root=root, log=sink, warm=False) as stack:
        shutil.rmtree(root / ".aws-sam" / "build")  # the moment sam build has removed the old build
        response = stack.lambda_client().invoke(  # cold: the issuer and both workflows start now
            FunctionName="IssuerFunction", Payload=(root / "events" / "issuer.user-token.json").read_bytes()
        )
        body = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, body
        assert [run["outcome"] for run in body["workflows"]] == ["ok", "ok"]
    assert not any((root / ".aws-sam" / "runs").iterdir())  # the stack's snapshot went with it


def test_every_function_is_built_by_the_one_shared_rule_and_a_change_to_it_reaches_all_on_a_cached_build(
    tmp_path: Path,
) -> None:
    """functions/Makefile is outside every CodeUri, so sam build --cached's source hashes never see
    it: this holds only while SAM CLI rebuilds Python functions on every run (as 1.170 does)."""
    from claimflow_local.stack.deployment import sam_build
    from claimflow_local.template import SamTemplate

    root = project_copy(tmp_path)
    sam_build(root)
    makefile = root / "functions" / "Makefile"
    makefile.write_text(makefile.read_text() + '\t: > "$(ARTIFACTS_DIR)/built-by-functions-makefile"\n')
    built = sam_build(root).parent
    functions = sorted(SamTemplate.load(root / "template.yaml").function_resources())
    assert functions
    assert [name for name in functions if not (built / name / "built-by-functions-makefile").exists()] == []


def test_what_deploys_is_bytecode_lambda_uses_as_is_with_pregenerated_validators(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first build (a fresh clone: nothing cached) where Python writes bytecode as it imports,
    as it does unless PYTHONDONTWRITEBYTECODE is set: the build's own imports must not leave
    timestamp .pyc behind that compileall then keeps as up to date."""
    import subprocess
    import sys

    from claimflow_local.stack.deployment import sam_build

    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    build = sam_build(project_copy(tmp_path)).parent  # .aws-sam/build
    sources = list(build.rglob("*.py"))
    assert len(sources) > 500
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
        assert compiled.exists(), source
        flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
        assert flags == 0b01, f"{compiled}: not an unchecked-hash pyc (flags {flags:#b})"  # used whatever the mtimes
    probe = "from claimflow.wire.contracts import SCHEMAS, _validator\nprint(sorted({_validator(n).__module__ for n in SCHEMAS}))"
    layer = build / "ClaimflowLayer" / "python"
    out = subprocess.run(
        [sys.executable, "-c", probe], env={**os.environ, "PYTHONPATH": str(layer)}, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == str(
        [
            "claimflow.wire.validators.recording_v1",
            "claimflow.wire.validators.token_reply_v1",
            "claimflow.wire.validators.token_request_v1",
            "claimflow.wire.validators.workflow_invocation_reply_v1",
            "claimflow.wire.validators.workflow_invocation_request_v1",
        ]
    )


def test_a_generated_validator_is_used_only_while_it_matches_its_schema(tmp_path: Path, monkeypatch: Any) -> None:
    import claimflow.wire
    from claimflow.wire import contracts

    contracts.generate_validators(tmp_path)  # tmp_path/validators, found as claimflow.wire.validators
    monkeypatch.setattr(claimflow.wire, "__path__", [*claimflow.wire.__path__, str(tmp_path)])
    contracts._validator.cache_clear()
    assert contracts._validator("token-request.v1").__module__ == "claimflow.wire.validators.token_request_v1"
    stale = tmp_path / "validators" / "token_reply_v1.py"
    stale.write_text(stale.read_text().replace("SCHEMA_FINGERPRINT = ", "SCHEMA_FINGERPRINT = 1 + ", 1))
    contracts._validator.cache_clear()
    assert contracts._validator("token-reply.v1").__module__ != "claimflow.wire.validators.token_reply_v1"
    contracts._validator.cache_clear()
