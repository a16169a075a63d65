"""Every command README, docs/ and the banners print runs as typed on a fresh clone (issue 25
§8): each is found (fenced shell blocks, inline code that starts like a command, the lines
make dev's banner and claimflow new print), classified, and every one that needs neither an
AWS account nor Docker is run, as typed, in a git clone of this project whose only extra is the
virtual environments ``make`` would have built (linked, and not rebuilt). make dev's ports are
moved to free ones (PORT_BASE), so the commands that name 3000-3006 get those numbers swapped.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.author_loop import _free_base
from tests.support import ROOT

#: Why a command is not run here; everything else runs.
NOT_HERE = {
    "aws": "needs an AWS account",
    "docker": "needs Docker (sam local)",
    "suite": "a test suite or benchmark of its own (it runs in CI)",
    "node": "needs Node.js (tests/functional/test_oidc_provider.py runs it)",
    "placeholder": "a template with a placeholder to fill in",
    "arm64": "builds for Graviton; local runs then refuse that layer here, by design (it says so)",
    "setup": "sets a shell variable for the lines after it (those lines are what is run)",
    "synopsis": "a command's forms, written as one line (`a | b`): each form is documented on its own",
    "server": "serves until stopped (make docs: make test builds the same site, strictly)",
    "recorded": "replays logins make dev or make demo recorded, or a stage's (test_recording_and_replay.py runs it)",
}
#: (pattern, kind): the first that matches a command classifies it.
KINDS: list[tuple[str, str]] = [
    (r"\bsam (local|sync)\b|--use-container", "docker"),
    (r"ARCH=arm64", "arm64"),
    (r"\bsam (deploy|delete)\b|--stage (dev|prod)\b", "aws"),
    (r"\baws (cloudformation|cognito-idp|ssm|kms|lambda update-alias)\b", "aws"),
    (r"^aws lambda invoke --function-name", "aws"),
    (r"\baws (configure|sso|sts|deploy)\b|\baws lambda (get-alias|list-versions-by-function)\b|json\.tool token\.json", "aws"),
    (r"^\./claimflow env\b(?!.*--local)", "aws"),  # without --local: a stage's SSM in an account
    (r"<[A-Za-z][^>]*>|…|\.\.\.", "placeholder"),
    (r"^(export [A-Z_]+=|[A-Z_]+=[^ ]+$|fn=)", "setup"),
    (r"^\./claimflow \w+ \w+ \| |^\./claimflow new$|\[--\w+", "synopsis"),
    (r"^\./claimflow (replay|explain)\b", "recorded"),
    (r"^make docs\b", "server"),
    (r"^make (test|pytest|bench|reliability|load|lint|scan|sam-check|clean|venv|venv-sam|venv-scan)\b", "suite"),
    (r"^make provider\b|\bnpm\b|\bnode\b", "node"),
    (r"^make dev\b", "dev"),  # started by the test itself, as typed (with PORT_BASE)
    (r"127\.0\.0\.1:30\d\d|--local\b|^\./claimflow preview\b", "with-dev"),  # needs make dev running
    (r"^(make (demo|help|build)\b|\./claimflow (check|new|preview|--help))", "offline"),
    (r"^(\.venv-sam/bin/sam (build|validate)\b|aws --version$)", "offline"),
    (r"^\.venv/bin/python -m pytest\b", "suite"),
    (r"^PYTHONPATH=\S+ \.venv/bin/python -m claimflow_local\.hook_callers ", "offline"),
]
_STARTS = re.compile(r"^(make |\./claimflow |curl |aws |sam |\.venv-sam/bin/sam |AWS_ACCESS_KEY_ID=)")


def _commands(text: str) -> list[str]:
    """Shell lines of fenced bash blocks (continuations joined, comments dropped), and inline
    code that starts like a command."""
    found = []
    for block in re.findall(r"```(?:bash|sh|shell|console)\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line and not line.startswith("#"):
                found.append(" ".join(line.split()))
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    for code in re.findall(r"`([^`\n][^`]*)`", prose.replace("\n", " ")):
        code = " ".join(code.split())
        if _STARTS.match(code):
            found.append(code)
    return found


def kind_of(command: str) -> str:
    for pattern, kind in KINDS:
        if re.search(pattern, command):
            return kind
    return "unknown"


def _documented() -> dict[str, str]:
    """Command → where it is printed."""
    found: dict[str, str] = {}
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for command in _commands(path.read_text()):
            found.setdefault(command, path.relative_to(ROOT).as_posix())
    return found


def test_every_printed_command_is_classified() -> None:
    unknown = {c: where for c, where in _documented().items() if kind_of(c) == "unknown"}
    assert not unknown, f"classify these in tests/functional/test_commands_as_typed.py (KINDS): {unknown}"


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of the project, with the virtual environments ``make`` would build linked in."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    target = tmp_path_factory.mktemp("fresh") / "claimflow"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True, timeout=120)
    for venv in (".venv", ".venv-sam", ".venv-scan", ".venv-docs", ".lambda-runtime"):
        if (ROOT / venv).exists():
            (target / venv).symlink_to(os.path.realpath(ROOT / venv))
    for requirements in target.glob("requirements*.txt"):  # older than the venvs' stamps: make does not rebuild them
        os.utime(requirements, (0, 0))
    os.utime(target / "layers" / "claimflow" / "requirements.txt", (0, 0))
    return target


def _aws_cli_v2() -> str | None:
    for candidate in (shutil.which("aws"), "/usr/bin/aws", "/usr/local/bin/aws"):
        if candidate and Path(candidate).exists():
            version = subprocess.run([candidate, "--version"], capture_output=True, text=True, check=False)
            if (version.stdout + version.stderr).startswith("aws-cli/2"):
                return candidate
    return None


def _shell(command: str, cwd: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=environment, capture_output=True, text=True, timeout=600, check=False
    )


def _environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST") and k != "CLAIMFLOW_LOCAL_STATE"}
    aws = _aws_cli_v2()
    if aws:  # `aws` as typed means AWS CLI v2 (README says so)
        environment["PATH"] = os.pathsep.join([str(Path(aws).parent), environment["PATH"]])
    return environment


@pytest.fixture(scope="module")
def dev(clone: Path) -> Iterator[tuple[int, list[str], subprocess.Popen[str]]]:
    """``make dev PORT_BASE=<free>`` in the clone, as typed; its banner lines."""
    base = _free_base()
    process = subprocess.Popen(
        ["bash", "-c", f"make dev PORT_BASE={base}"],
        cwd=clone,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a Ctrl-C below reaches make and all it runs
    )
    assert process.stdout is not None
    banner: list[str] = []
    deadline = time.monotonic() + 600
    for line in process.stdout:
        banner.append(line.rstrip("\n"))
        if line.startswith("  example OAuth token endpoint"):
            banner.append(process.stdout.readline().rstrip("\n"))
            break
        if time.monotonic() > deadline:
            break
    assert any("claimflow is running locally" in line for line in banner), banner
    yield base, banner, process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _swap_ports(command: str, base: int) -> str:
    return re.sub(r"127\.0\.0\.1:30(0\d)", lambda m: f"127.0.0.1:{base + int(m[1])}", command)


def _banner_commands(banner: list[str]) -> list[str]:
    joined = "\n".join(banner).replace("\\\n", " ")
    return [" ".join(line.split()) for line in joined.splitlines() if _STARTS.match(line.strip())]


def test_the_commands_make_dev_and_the_docs_print_run_as_typed_against_it(
    clone: Path, dev: tuple[int, list[str], subprocess.Popen[str]]
) -> None:
    base, banner, process = dev
    environment = _environment()
    printed = _banner_commands(banner)
    assert any(c.startswith("AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws lambda invoke") for c in printed), banner
    documented = [_swap_ports(c, base) for c, _ in _documented().items() if kind_of(c) == "with-dev"]
    failures = []
    for command in [*printed, *documented]:
        if " aws " in f" {command}" and _aws_cli_v2() is None:
            continue  # no AWS CLI v2 on this machine (README: the commands are v2's); the rest still run
        run = _shell(command, clone, environment)
        if run.returncode != 0:
            failures.append(f"{command}\n  → exit {run.returncode}: {(run.stdout + run.stderr).strip()[-400:]}")
        elif command.startswith("curl") and "/token" in command:
            assert '"access_token"' in run.stdout, run.stdout
    assert not failures, "\n".join(failures)
    # Ctrl-C, as a terminal sends it to make and what it runs: stopped in under 2 s, no traceback
    started = time.perf_counter()
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=30)
    stopped = time.perf_counter() - started
    stderr = process.stderr.read() if process.stderr else ""
    assert "KeyboardInterrupt" not in stderr and "Traceback (most recent call last):\n" not in stderr, stderr[-2000:]
    assert stopped < 10  # measured in bench/author_loop.py (target 2 s); here only: it stops by itself


def test_the_commands_that_need_nothing_running_run_as_typed_on_the_fresh_clone(clone: Path) -> None:
    environment = _environment()
    offline = [c for c in _documented() if kind_of(c) == "offline"]
    # what `claimflow new` prints to run next, as typed (those that need neither Docker nor a suite)
    new = _shell("./claimflow new add-tier --trigger user:tokens_generation", clone, environment)
    assert new.returncode == 0, new.stderr
    offline += [c for c in (line.split(":", 1)[-1].strip() for line in new.stdout.splitlines()) if kind_of(c) == "offline"]
    failures = []
    for command in dict.fromkeys(offline):
        run = _shell(command, clone, environment)
        if run.returncode != 0 and not (command.startswith("./claimflow new") and "already exists" in run.stderr):
            failures.append(f"{command}\n  → exit {run.returncode}: {(run.stdout + run.stderr).strip()[-400:]}")
    assert not failures, "\n".join(failures)
