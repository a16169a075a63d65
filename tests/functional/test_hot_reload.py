"""make dev's hot reload (issue 25 §2), on a running stack in a copy of the project (its layer
copied too, so that it can be edited): each kind of change rebuilds what it needs and the next
token runs it; a failed build, or code that no longer starts, says why and the last good build
keeps serving; the layer's quick rebuild is the layer's own build; and the local stack's keys
follow the template's SigningAlgorithm (issue 25 §5)."""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from claimflow_local.stack.deployment import LocalDeployment
from claimflow_local.stack.local_state import reload_failure
from claimflow_local.stack.reload import HotReload
from claimflow_local.stack.ssm import SettingsError
from tests.functional.test_toolkit import edit
from tests.support import ROOT

WORKFLOW = "functions/add_third_party_data_to_access_token/app.py"
CLAIM_LINE = '    access_token.lifetime_subscriber = user_data.get("lifetime_subscriber") or False'


def _project(root: Path) -> Path:
    """The project, its layer included (project_copy links the layer; here it is edited)."""
    root.mkdir()
    for name in ("template.yaml", "samconfig.toml"):
        shutil.copy(ROOT / name, root / name)
    for folder in ("functions", "events", "local"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__", "state"))
    shutil.copytree(ROOT / "layers", root / "layers", ignore=shutil.ignore_patterns("__pycache__"))
    return root


class Said:
    lines: list[str]

    def __init__(self) -> None:
        self.lines = []

    def write(self, text: str) -> int:
        self.lines += [line for line in text.splitlines() if line]
        return len(text)

    def flush(self) -> None:
        pass


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalDeployment, HotReload, Path]]:
    root = _project(tmp_path_factory.mktemp("reload") / "project")
    with open(os.devnull, "w") as sink, LocalDeployment(root=root, log=sink) as stack:
        yield stack, HotReload(stack, out=Said()), root  # reloads applied by hand: no watcher timing


def _reply(stack: LocalDeployment, request: dict[str, Any] | None = None) -> dict[str, Any]:
    payload = request or json.loads((stack.root / "events" / "issuer.user-token.json").read_text())
    reply: dict[str, Any] = json.loads(
        stack.lambda_client().invoke(FunctionName="IssuerFunction", Payload=json.dumps(payload).encode())["Payload"].read()
    )
    return reply


def _claims(reply: dict[str, Any]) -> dict[str, Any]:
    assert "access_token" in reply, reply
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(reply["access_token"].split(".")[1] + "=="))
    return payload


def test_a_workflow_edit_is_rebuilt_alone_and_the_next_token_runs_it(running: tuple[LocalDeployment, HotReload, Path]) -> None:
    stack, reload, root = running
    edit(root / WORKFLOW, CLAIM_LINE, CLAIM_LINE + '\n    access_token.reloaded = "yes"')
    line = reload.apply([WORKFLOW])
    assert line.startswith(f"reload: {WORKFLOW} → AddThirdPartyDataToAccessTokenFunction rebuilt and warm in ")
    assert _claims(_reply(stack))["reloaded"] == "yes"


def test_a_build_that_fails_says_why_and_the_last_good_build_keeps_serving(
    running: tuple[LocalDeployment, HotReload, Path],
) -> None:
    stack, reload, root = running
    source = (root / WORKFLOW).read_text()
    (root / WORKFLOW).write_text(source.replace('access_token.reloaded = "yes"', 'access_token.reloaded = "yes" +'))
    line = reload.apply([WORKFLOW])
    number = next(i + 1 for i, text in enumerate((root / WORKFLOW).read_text().splitlines()) if '"yes" +' in text)
    assert line.startswith("reload failed (") and "SyntaxError: invalid syntax" in line
    assert f'File "{WORKFLOW}", line {number}' in line and line.endswith("still serving the last good build")
    assert _claims(_reply(stack))["reloaded"] == "yes"  # the last good build
    # preview, against this make dev, says it is not the code on disk; a good reload clears that
    assert reload_failure(root, pid=os.getpid()) == line
    (root / WORKFLOW).write_text(source)
    assert reload.apply([WORKFLOW]).startswith("reload: ")
    assert reload_failure(root, pid=os.getpid()) is None


def test_code_that_no_longer_starts_keeps_the_last_good_build(running: tuple[LocalDeployment, HotReload, Path]) -> None:
    stack, reload, root = running
    source = (root / WORKFLOW).read_text()
    (root / WORKFLOW).write_text("import not_a_module_anywhere\n" + source)
    line = reload.apply([WORKFLOW])
    assert "AddThirdPartyDataToAccessTokenFunction does not start: Runtime.ImportModuleError: Unable to import module 'app'" in (
        line
    )
    assert "No module named 'not_a_module_anywhere'" in line and "still serving the last good build" in line
    assert _claims(_reply(stack))["reloaded"] == "yes"
    (root / WORKFLOW).write_text(source)


def test_a_layer_edit_reaches_every_function_and_a_contract_change_its_validators(
    running: tuple[LocalDeployment, HotReload, Path],
) -> None:
    stack, reload, root = running
    contracts = "layers/claimflow/claimflow/wire/contracts.py"
    edit(root / contracts, 'raise error(f"{message} (contract {name})")', 'raise error(f"{message} (contract {name}, v2)")')
    line = reload.apply([contracts])
    assert line.startswith(f"reload: {contracts} → layer rebuilt, {len(stack.emulator.pools)} functions warm in ")  # type: ignore[union-attr]
    refused = _reply(stack, ["not", "an", "object"])  # type: ignore[arg-type]
    assert refused["error"] == "invalid_request" and "(contract token-request.v1, v2)" in refused["error_description"]
    assert "access_token" in _reply(stack)


def test_the_quick_layer_build_is_the_layers_own_build(running: tuple[LocalDeployment, HotReload, Path]) -> None:
    stack, reload, root = running
    layer = stack.emulator.pools["IssuerFunction"].spec.layer_dirs[0]  # type: ignore[union-attr]
    quick = reload._build_layer(layer) / "python" / "claimflow"
    built = root / ".aws-sam" / "build" / "ClaimflowLayer" / "python" / "claimflow"
    from claimflow_local.stack.deployment import sam_build

    with open(os.devnull, "w") as sink:
        sam_build(root, log=sink)  # the layer's own build (layers/claimflow/Makefile), of the same sources
    files = {p.relative_to(quick).as_posix() for p in quick.rglob("*") if p.is_file()}
    assert files == {p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file()}
    for name in files:
        ours, theirs = (quick / name).read_bytes(), (built / name).read_bytes()
        if name.endswith(".pyc"):  # same magic, unchecked-hash flag and source hash (marshal may order refs apart)
            assert ours[:16] == theirs[:16], name
        else:
            assert ours == theirs, name


def test_routes_reload_and_a_bad_file_keeps_the_routes_that_ran(running: tuple[LocalDeployment, HotReload, Path]) -> None:
    import requests

    stack, reload, root = running
    assert stack.third_party is not None
    routes = root / "local" / "third_party.yaml"
    before = routes.read_text()
    shipped = len(yaml.safe_load(before)["routes"])
    routes.write_text(before + '  - {method: GET, path: "/api/plan/{id}", json: {plan: pro}}\n')
    assert reload.apply(["local/third_party.yaml"]).startswith(f"reload: local/third_party.yaml → {shipped + 1} routes in ")
    assert requests.get(f"{stack.third_party.url}/api/plan/kp_1", timeout=5).json() == {"plan": "pro"}
    routes.write_text(before + "  - {path: api/broken}\n")
    line = reload.apply(["local/third_party.yaml"])
    assert f"local/third_party.yaml route {shipped + 1}: path 'api/broken' must start with /" in line and "still serving" in line
    assert requests.get(f"{stack.third_party.url}/api/plan/kp_1", timeout=5).json() == {"plan": "pro"}
    routes.write_text(before)


@pytest.mark.timeout(600)
def test_a_template_change_rebuilds_everything_and_a_new_workflow_runs_in_the_next_token(
    running: tuple[LocalDeployment, HotReload, Path],
) -> None:
    from claimflow_local.cli import main as cli

    stack, reload, root = running
    assert cli(["--root", str(root), "new", "add-tier", "--trigger", "user:tokens_generation"]) == 0
    line = reload.apply(["template.yaml", "functions/add_tier/app.py", "functions/add_tier/requirements.txt"])
    changed = "functions/add_tier/app.py, functions/add_tier/requirements.txt, template.yaml"
    assert line.startswith(f"reload: {changed} → sam build, 7 functions")
    reply = _reply(stack)
    assert [w["id"] for w in reply["workflows"]][-1] == "addTier" and _claims(reply)["addTier_ran"] is True


def test_the_local_stacks_keys_follow_the_templates_signing_algorithm(running: tuple[LocalDeployment, HotReload, Path]) -> None:
    _, _, root = running
    default = "  SigningAlgorithm:\n    Type: String\n    Default: "
    edit(root / "template.yaml", default + "RS256", default + "ES256")
    with open(os.devnull, "w") as sink, LocalDeployment(root=root, log=sink, warm=False) as es256:
        token = _reply(es256)["access_token"]
    assert json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["alg"] == "ES256"
    settings = json.loads((root / "local" / "settings.json").read_text())
    (root / "local" / "settings.json").write_text(json.dumps({**settings, "signing_algorithm": "RS256"}))
    with pytest.raises(SettingsError, match="'signing_algorithm' is gone: the template's SigningAlgorithm decides"):
        LocalDeployment(root=root)


def test_a_failing_make_demo_prints_the_report_line_it_points_at(
    running: tuple[LocalDeployment, HotReload, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from claimflow_local.cli.demo import run_demo

    _, _, root = running
    (root / "local" / "settings.json").write_text((ROOT / "local" / "settings.json").read_text())
    edit(root / WORKFLOW, CLAIM_LINE, '    access_token.plan = user_data["plans"][0]\n' + CLAIM_LINE)
    line = next(i + 1 for i, text in enumerate((root / WORKFLOW).read_text().splitlines()) if 'user_data["plans"]' in text)
    assert run_demo(root=root) == 1
    err = capsys.readouterr().err
    assert "the issuer refused the token: server_error: workflow 'addThirdPartyDataToAccessToken' failed" in err
    report = next(text for text in err.splitlines() if text.strip().startswith("addThirdPartyDataToAccessToken"))
    assert report.endswith(f"policy=stop  KeyError: 'plans' at {WORKFLOW}:{line}")
