"""The authors' tools answer every mistake with one line naming the fix, never a traceback:
keys' help and --local, env without a region and with values from stdin or a file, preview
given the wrong event, new refusing before it edits, make dev on busy ports, make help."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from claimflow.binding_table import BINDINGS
from claimflow_local.cli import main as cli
from claimflow_local.cli.check import check_project
from claimflow_local.stack.local_state import ENV_STORE, DevRecord
from claimflow_local.stack.ports import DEV_PORTS, PORT_BASE_VARIABLE, dev_ports
from claimflow_local.stack.ssm import EmbeddedSsm
from tests.functional.test_toolkit import edit, project_copy
from tests.support import ROOT, holding_ports

ONE_LINE = re.compile(r"^claimflow \w+: [^\n]+\n$")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        status = cli(list(argv))
    except SystemExit as exit_:  # argparse's --help and usage errors
        status = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def local_ssm(ssm: Any, embedded_ssm: EmbeddedSsm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A project whose make dev runs (its record names the embedded SSM, and this process),
    the working folder: --local reaches that SSM."""
    root = project_copy(tmp_path)
    DevRecord(os.getpid(), {"ssm": embedded_ssm.url, "lambda": embedded_ssm.url}, "local").write(root)
    monkeypatch.chdir(root / "functions")  # inside the project, not at its root: the CLI finds it
    return ssm


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_keys_has_help_like_every_command(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    status, out, err = run_cli(capsys, "keys", flag)
    assert status == 0 and err == ""
    assert out.startswith("usage: claimflow keys") and "--local" in out and "--stage" in out


def test_new_help_says_what_each_binding_is_for(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "10000")  # one line: argparse wraps at the terminal's width
    status, out, _ = run_cli(capsys, "new", "--help")
    assert status == 0
    for name, spec in BINDINGS.items():
        assert f"{name}: {spec.summary}" in out


def test_keys_local_manages_make_devs_keys(capsys: pytest.CaptureFixture[str], local_ssm: Any) -> None:
    status, out, _ = run_cli(capsys, "keys", "init", "--stage", "local", "--local")
    assert status == 0 and out.startswith("active")
    status, out, _ = run_cli(capsys, "keys", "rotate", "--stage", "local", "--local")
    assert status == 0 and [line.split()[0] for line in out.splitlines()] == ["active", "next"]
    published = json.loads(local_ssm.get_parameter(Name="/claimflow/local/signing/jwks")["Parameter"]["Value"])
    assert len(published["keys"]) == 2


def test_keys_show_without_a_key_set_says_what_to_run(capsys: pytest.CaptureFixture[str], local_ssm: Any) -> None:
    status, _, err = run_cli(capsys, "keys", "show", "--stage", "nokeys", "--local")
    assert status == 2 and ONE_LINE.match(err)
    assert "no key set at /claimflow/nokeys/signing/keyset; run 'claimflow keys init' first" in err


@pytest.mark.parametrize("command", [("env", "list", "--stage", "prod"), ("keys", "show", "--stage", "prod")])
def test_without_a_region_aws_commands_say_what_to_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: tuple[str, ...]
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    status, _, err = run_cli(capsys, *command)
    assert status == 2 and ONE_LINE.match(err), err
    assert "no AWS region is configured: set AWS_REGION (or run `aws configure`), or pass --local" in err


def test_env_set_reads_a_secret_from_stdin_and_refuses_a_stray_newline(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, local_ssm: Any
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("sk-from-stdin\n"))
    status, _, err = run_cli(capsys, "env", "set", "API_KEY", "-", "--secret", "--local")
    assert status == 2 and ONE_LINE.match(err)
    assert "the value from standard input ends with a newline; pass --strip-newline" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO("sk-from-stdin\n"))
    status, out, err = run_cli(capsys, "env", "set", "API_KEY", "-", "--secret", "--strip-newline", "--local")
    assert (status, err) == (0, "")
    assert out == (
        f"set /claimflow/local/env/API_KEY (secret) in make dev's SSM and in {ENV_STORE} (every local stack starts with it)\n"
    )
    stored = local_ssm.get_parameter(Name="/claimflow/local/env/API_KEY", WithDecryption=True)["Parameter"]
    assert (stored["Value"], stored["Type"]) == ("sk-from-stdin", "SecureString")


def test_env_set_reads_a_file_and_keeps_its_newline_when_asked(
    capsys: pytest.CaptureFixture[str], local_ssm: Any, tmp_path: Path
) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text("-----BEGIN KEY-----\nabc\n-----END KEY-----\n")
    status, _, _ = run_cli(capsys, "env", "set", "PEM", "--from-file", str(pem), "--keep-newline", "--secret", "--local")
    assert status == 0
    stored = local_ssm.get_parameter(Name="/claimflow/local/env/PEM", WithDecryption=True)["Parameter"]["Value"]
    assert stored == pem.read_text()
    status, _, err = run_cli(capsys, "env", "set", "PEM", "--from-file", str(tmp_path / "missing"), "--local")
    assert status == 2 and "cannot read --from-file" in err and ONE_LINE.match(err)


def test_a_secret_on_the_command_line_works_and_says_where_it_now_is(capsys: pytest.CaptureFixture[str], local_ssm: Any) -> None:
    status, out, err = run_cli(capsys, "env", "set", "API_KEY", "typed-key", "--secret", "--local")
    assert status == 0 and "set /claimflow/local/env/API_KEY (secret)" in out
    assert "shell history" in err and "typed-key" not in out + err


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            "events/none.json",
            "no event file at events/none.json; preview takes a token request such as events/issuer.m2m-token.json",
        ),
        (
            "events/workflow.addThirdPartyDataUsingEnvs.json",
            "is a workflow invocation for AddThirdPartyDataUsingEnvsFunction (workflow addThirdPartyDataUsingEnvs): run it with "
            "`.venv-sam/bin/sam local invoke AddThirdPartyDataUsingEnvsFunction "
            "-e events/workflow.addThirdPartyDataUsingEnvs.json` (with Docker)",
        ),
        (
            "events/cognito.v2-user-authentication.json",
            "is a Cognito trigger event for IssuerFunction: run it with `.venv-sam/bin/sam local invoke IssuerFunction",
        ),
        (
            "events/jwks.get-jwks.json",
            "is an HTTP event for JwksFunction (its Function URL): run it with `.venv-sam/bin/sam local invoke JwksFunction",
        ),
    ],
)
def test_preview_given_the_wrong_event_names_the_right_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, event: str, expected: str
) -> None:
    monkeypatch.chdir(ROOT)
    started = time.perf_counter()
    status, out, err = run_cli(capsys, "preview", "--event", event)
    assert time.perf_counter() - started < 2  # refused before any stack starts
    assert status == 2 and out == "" and ONE_LINE.match(err), err
    assert expected in err


def test_new_refuses_a_binding_the_trigger_cannot_use_before_editing_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project_copy(tmp_path)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and "layers" not in p.parts}
    status, _, err = run_cli(
        capsys, "--root", str(root), "new", "org-id", "--trigger", "m2m:token_generation", "--bindings", "kinde.idToken"
    )
    assert status == 2 and ONE_LINE.match(err)
    assert "nothing written: workflow_settings.bindings: 'kinde.idToken' does not apply to trigger 'm2m:token_generation'" in err
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and "layers" not in p.parts}
    assert after == before


def test_new_with_policy_continue_checks_at_once_and_says_how_to_run_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project_copy(tmp_path)
    status, out, _ = run_cli(
        capsys, "--root", str(root), "new", "add-tier", "--trigger", "user:tokens_generation", "--policy", "continue"
    )
    assert status == 0
    assert 'failure_policy="continue"' in (root / "functions" / "add_tier" / "app.py").read_text()
    assert "workflow addTier is function AddTierFunction" in out
    assert "sam local invoke AddTierFunction -e events/workflow.addTier.json" in out
    assert check_project(root).problems == []


def test_new_writes_the_whole_block_so_the_operations_invariants_and_check_hold_on_the_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project_copy(tmp_path)
    status, _, _ = run_cli(
        capsys, "--root", str(root), "new", "add-tier", "--trigger", "user:tokens_generation",
        "--bindings", "kinde.env", "kinde.secureFetch",
    )  # fmt: skip
    assert status == 0
    assert check_project(root).problems == []
    assert not (root / "functions" / "add_tier" / "Makefile").exists()  # built by functions/Makefile, as every function
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "tests/template/test_operations.py"],
        cwd=ROOT,
        env={**os.environ, "CLAIMFLOW_TEMPLATE": str(root / "template.yaml")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    rollback = "test_operations.py::test_each_deployment_rolls_back_on_alarms_watching_that_function"
    assert f"PASSED tests/template/{rollback}[AddTierFunction]" in run.stdout  # the new workflow among them


def test_new_refuses_a_template_it_cannot_edit_as_the_block_reads_before_writing_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project_copy(tmp_path)
    others = ("AddThirdPartyDataUsingEnvsFunction", "MapClientToOrganizationFunction")
    # One alias, written as a scalar: not the list new extends.
    edit(root / "template.yaml", "".join(f"                - !Ref {name}.Alias\n" for name in others), "")
    edit(root / "template.yaml", "              Resource:\n                - !Ref Add", "              Resource: !Ref Add")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and "layers" not in p.parts}
    status, _, err = run_cli(capsys, "--root", str(root), "new", "add-tier", "--trigger", "user:tokens_generation")
    assert status == 2 and ONE_LINE.match(err), err
    assert "template.yaml is laid out in a way new cannot edit (compare it with tools/claimflow_local/scaffold/" in err
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and "layers" not in p.parts} == before


def _without(text: str, resource: str) -> str:
    """template.yaml with one resource's (or Output's) lines cut out, as a hand edit would."""
    cut = re.sub(rf"\n  {resource}:\n(?:(?:    .*)?\n)*", "\n", text)
    assert cut != text, resource
    return cut


ALIAS_DIMENSION = 'Value: !Sub "${AddThirdPartyDataToAccessTokenFunction}:live"'
EDITED_BLOCKS = {
    "an alarm deleted": (
        lambda text: _without(text, "MapClientToOrganizationFunctionP99Alarm"),
        "template.yaml: MapClientToOrganizationFunctionP99Alarm of workflow mapClientToOrganization's block is missing — "
        "add it as tools/claimflow_local/scaffold/workflow.yaml writes @{logical_id}P99Alarm "
        "(@{logical_id} = MapClientToOrganizationFunction, @{workflow_id} = mapClientToOrganization)",
    ),
    "an alarm watching $LATEST": (
        lambda text: text.replace(ALIAS_DIMENSION, "Value: !Ref AddThirdPartyDataToAccessTokenFunction"),
        "template.yaml: AddThirdPartyDataToAccessTokenFunctionErrorsAlarm has Properties.Dimensions [",
    ),
    "an output deleted": (
        lambda text: _without(text, "AddThirdPartyDataUsingEnvsFunctionArn"),
        "template.yaml: Output AddThirdPartyDataUsingEnvsFunctionArn of workflow addThirdPartyDataUsingEnvs's block is missing",
    ),
}


@pytest.mark.parametrize("edit", sorted(EDITED_BLOCKS))
def test_check_names_a_block_resource_edited_by_hand_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: str
) -> None:
    root = project_copy(tmp_path)
    change, expected = EDITED_BLOCKS[edit]
    template = root / "template.yaml"
    template.write_text(change(template.read_text()))
    status, out, _ = run_cli(capsys, "--root", str(root), "check")
    assert status == 1
    assert expected in out, out
    assert out.splitlines()[-1] == "claimflow check: 1 problem(s) (1 warning(s))"


def test_what_the_block_does_not_write_is_the_workflows_own_to_choose(tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    edit(
        root / "template.yaml",
        '      Description: "workflow mapClientToOrganization (M2M example): the client\'s org_code from a directory lookup"\n',
        '      Description: "our own words"\n      Timeout: 10\n      MemorySize: 1024\n'
        "      Environment:\n        Variables:\n          DIRECTORY_URL: https://directory.example\n",
    )
    assert check_project(root).problems == []


def test_check_reports_a_claim_two_workflows_write_and_disabled_workflows_settle_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project_copy(tmp_path)
    (root / "samconfig.toml").write_text((ROOT / "samconfig.toml").read_text())
    status, out, _ = run_cli(capsys, "--root", str(root), "check")
    assert status == 0
    assert (
        "warning: functions/add_third_party_data_to_access_token/app.py and functions/add_third_party_data_using_envs/app.py "
        "both set 'lifetime_subscriber' on the access_token for user:tokens_generation" in out
    )
    edit(
        root / "template.yaml",
        '  DisabledWorkflows:\n    Type: String\n    Default: ""',
        '  DisabledWorkflows:\n    Type: String\n    Default: "addThirdPartyDataToAccessToken"',
    )
    report = check_project(root)
    assert (report.problems, report.warnings) == ([], [])
    edit(
        root / "samconfig.toml",
        'parameter_overrides = "Stage=\\"prod\\"',
        'parameter_overrides = "DisabledWorkflows=\\"addThirdPartyData\\" Stage=\\"prod\\"',
    )
    assert check_project(root).problems == [
        "samconfig.toml [prod.deploy.parameters]: DisabledWorkflows names addThirdPartyData, which CLAIMFLOW_WORKFLOWS does not "
        "register (registered: addThirdPartyDataToAccessToken, addThirdPartyDataUsingEnvs, mapClientToOrganization) — fix the "
        "id; the issuer refuses to start with it"
    ]


def test_a_second_make_dev_on_busy_ports_exits_naming_each_port_before_starting_anything() -> None:
    with holding_ports(len(DEV_PORTS), listen=True) as base:  # all of a make dev's ports, held here
        environment = {**os.environ, PORT_BASE_VARIABLE: str(base)}
        run = subprocess.run(
            [sys.executable, "-m", "claimflow_local", "dev"], env=environment, capture_output=True, text=True, timeout=120
        )
    taken = ", ".join(f"{port} ({name})" for name, port in dev_ports(environment).items())
    assert run.returncode == 2
    assert run.stderr == (  # that one line: no build, no stack, no traceback
        f"make dev: port {taken} already in use on 127.0.0.1 — is another make dev running? "
        f"Stop it, or move every port: make dev PORT_BASE={base + 100}\n"
    )


def test_make_help_lists_every_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):(?!=)", makefile, flags=re.MULTILINE))
    listed = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    shown = {line.split()[1] for line in listed.splitlines()}
    assert shown == targets
    assert all(len(line.split(maxsplit=2)) == 3 for line in listed.splitlines())  # each with what it does


def test_a_stage_with_disabled_workflows_issues_without_them() -> None:
    from claimflow_local.stack.deployment import LocalDeployment

    with (
        open(os.devnull, "w") as sink,
        LocalDeployment(
            root=ROOT, log=sink, parameter_overrides={"DisabledWorkflows": "addThirdPartyDataToAccessToken"}
        ) as stack,
    ):
        reply = json.loads(
            stack.lambda_client()
            .invoke(FunctionName="IssuerFunction", Payload=(ROOT / "events" / "issuer.user-token.json").read_bytes())["Payload"]
            .read()
        )
    assert [w["id"] for w in reply["workflows"]] == ["addThirdPartyDataUsingEnvs"]
    assert "access_token" in reply


def test_preview_runs_a_claims_hook_call_and_says_who_signs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    status, out, _ = run_cli(capsys, "preview", "--event", "events/hooks.hydra-token-hook.json")
    assert status == 0
    assert "addThirdPartyDataToAccessToken     ok" in out
    assert 'access_token (claims Ory Hydra adds and signs): {"lifetime_subscriber": true}' in out


# --- local state that lasts, and the CLI from anywhere (issue 25 §5, §6) --------------------


def test_env_set_local_without_make_dev_goes_to_the_local_store_every_local_stack_starts_with(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from claimflow_local.stack.deployment import LocalDeployment

    root = project_copy(tmp_path)
    monkeypatch.chdir(root / "events")
    status, out, _ = run_cli(capsys, "env", "set", "PLAN_API_KEY", "pk-7", "--secret", "--local")
    assert status == 0
    assert out == (
        f"set /claimflow/local/env/PLAN_API_KEY (secret) in {ENV_STORE}: make dev is not running; every local stack "
        "(dev, demo, preview, the kit) starts with it\n"
    )
    assert (root / ENV_STORE).stat().st_mode & 0o777 == 0o600  # it holds secrets, as the local SSM does
    assert run_cli(capsys, "env", "unset", "API_REGION", "--workflow", "addThirdPartyDataUsingEnvs", "--local")[0] == 0
    seeded = LocalDeployment(root=root, local_state=True).seeded_env()
    assert seeded["shared"]["PLAN_API_KEY"] == {"value": "pk-7", "secret": True}
    assert "API_REGION" not in seeded["workflows"]["addThirdPartyDataUsingEnvs"]  # an unset beats local/settings.json
    status, out, _ = run_cli(capsys, "env", "list", "--local")
    assert "PLAN_API_KEY" in out and "pk-7" not in out and "make dev is not running" in out


def test_env_refuses_a_workflow_id_nothing_registers_naming_those_that_exist(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(capsys, "--root", str(ROOT), "env", "set", "X", "y", "--workflow", "noSuchWorkflow", "--local")
    assert status == 2 and ONE_LINE.match(err)
    assert err == (
        "claimflow env: --workflow noSuchWorkflow: no workflow registers that id, so nothing would read it; the workflows "
        "are addThirdPartyDataToAccessToken, addThirdPartyDataUsingEnvs, mapClientToOrganization\n"
    )


TOO_LONG = "Standard tier parameters support a maximum value of 4096 characters"


def test_an_empty_value_and_a_value_ssm_refuses_are_named_as_such(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from claimflow_local.loopback import LoopbackHandler, LoopbackServer

    status, _, err = run_cli(capsys, "--root", str(ROOT), "env", "set", "X", "", "--stage", "dev")
    assert status == 2 and "the value is empty, and SSM keeps no empty parameter" in err

    class Refusing(LoopbackHandler):  # what SSM answers a value over the standard tier's 4 KB
        def do_POST(self) -> None:
            self.body_or_reply()
            self.send_json(
                400,
                {"__type": "ValidationException", "message": TOO_LONG},
                {"Content-Type": "application/x-amz-json-1.1"},
            )

    ssm = LoopbackServer(Refusing).start("refusing-ssm")
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", ssm.base_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
        status, _, err = run_cli(capsys, "--root", str(ROOT), "env", "set", "X", "v" * 5000, "--stage", "dev")
    finally:
        ssm.stop()
    assert status == 2 and ONE_LINE.match(err)
    assert err == (f"claimflow env: SSM refused it: ValidationException: {TOO_LONG}\n")


def test_the_cli_finds_the_project_from_any_folder_in_it_and_says_so_in_one_line_outside(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(ROOT / "functions" / "issuer")
    status, out, err = run_cli(capsys, "check")
    assert (status, err) == (0, "") and out.strip().splitlines()[-1].startswith("claimflow check: code and template agree")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    for argv in (["check"], ["new", "x", "--trigger", "user:tokens_generation"], ["preview", "--event", "e.json"]):
        status, _, err = run_cli(capsys, *argv)
        assert status == 2 and ONE_LINE.match(err), err
        assert f"no template.yaml in {outside.resolve()} or any folder above it" in err
    status, _, err = run_cli(capsys, "check", "--root", str(outside))
    assert status == 2 and err == f"claimflow check: --root {outside}: no template.yaml there\n"


def test_new_refuses_a_name_it_would_have_to_change_silently(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    status, _, err = run_cli(capsys, "--root", str(root), "new", "Bad_Name!", "--trigger", "user:tokens_generation")
    assert status == 2 and ONE_LINE.match(err)
    assert "workflow name 'Bad_Name!' holds '!': use letters, digits, - and _" in err
    assert not (root / "functions" / "bad_name").exists()


def test_ports_a_stopped_make_dev_leaves_in_time_wait_are_not_busy() -> None:
    from claimflow_local.stack.ports import busy_ports

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    served, _ = listener.accept()
    assert busy_ports({"token_endpoint": port}) == [("token_endpoint", port)]  # listening: busy
    served.close()  # the server closes first, as ours do: its side of the connection waits in TIME_WAIT
    client.close()
    listener.close()
    assert busy_ports({"token_endpoint": port}) == []


def test_preview_of_a_deployed_stack_without_a_region_suggests_preview_locally(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    event = "events/issuer.user-token.json"
    status, _, err = run_cli(capsys, "--root", str(ROOT), "preview", "--event", event, "--against", "prod")
    assert status == 2 and ONE_LINE.match(err), err
    assert err.endswith("or preview locally with --against local (the default)\n") and "--local" not in err


def test_the_scaffolds_fetch_example_says_what_it_imports(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    new = ["new", "add-plan", "--trigger", "user:tokens_generation", "--bindings", "kinde.fetch"]
    assert run_cli(capsys, "--root", str(root), *new)[0] == 0
    app = (root / "functions" / "add_plan" / "app.py").read_text()
    assert "os.environ['API_BASE_URL']" in app and "with `import os`, and fetch imported from claimflow" in app
    assert "local/third_party.yaml" in app


def test_the_cli_reaches_aws_in_the_region_aws_region_names_as_aws_cli_v2_does(
    embedded_ssm: EmbeddedSsm, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/deploying.md says `export AWS_REGION=...`; boto3 alone reads only AWS_DEFAULT_REGION."""
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)  # no profile's region to fall back on
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", embedded_ssm.url)  # "AWS" here: moto, on loopback
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    status, out, err = run_cli(capsys, "--root", str(ROOT), "env", "list", "--stage", "regioned")
    assert (status, err) == (0, ""), err
    assert out.strip() == "(none)"
    monkeypatch.delenv("AWS_REGION")
    status, _, err = run_cli(capsys, "--root", str(ROOT), "env", "list", "--stage", "regioned")
    assert status == 2 and err == (
        "claimflow env: no AWS region is configured: set AWS_REGION (or run `aws configure`), "
        "or pass --local to use the local stack (make dev) instead\n"
    )
