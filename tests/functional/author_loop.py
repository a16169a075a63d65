"""The author's loop, walked as an author would, in a fresh copy of the project: ``claimflow
new`` → code that calls a route declared in ``local/third_party.yaml`` → ``make dev`` → an edit
→ the next token carries it → ``env set --local`` → a restart → the value is still there → an
exception → its file and line in ``preview``. Each step is timed.

Used by ``tests/functional/test_author_loop.py`` (once, asserting what each step shows) and by
``bench/author_loop.py`` (five times, reporting each step's median).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import jwt

from claimflow_local.stack.ports import busy_ports, dev_ports
from tests.functional.test_toolkit import project_copy

SUBSCRIBER = "kp_6a0713b9e5d14c3e9a2f0c4d8b7e1f21"

#: What the author adds to local/third_party.yaml: their billing API, which wants an API key.
BILLING_ROUTES = """
  # the billing API of the org_plan workflow
  - method: GET
    path: /billing/{user}/plan
    when: {headers: {X-Api-Key: billing-key-1}}
    json: {plan: team, seats: 12, user: "{user}"}
  - method: GET
    path: /billing/{user}/plan
    status: 401
    json: {error: bad api key}
"""

#: The author's workflow, after ``claimflow new add-org-plan --bindings kinde.env kinde.fetch``.
WORKFLOW = '''"""Workflow addOrgPlan: the organization's plan, from the billing API."""

import os

from claimflow import (
    EventView,
    WorkflowSettings,
    WorkflowTrigger,
    access_token_custom_claims,
    create_handler,
    fetch,
    get_environment_variable,
)

workflow_settings = WorkflowSettings(
    id="addOrgPlan",
    name="addOrgPlan",
    trigger=WorkflowTrigger.UserTokenGeneration,
    bindings={
        "kinde.accessToken": {},
        "kinde.env": {},
        "kinde.fetch": {},
        "url": {},
    },
)


def add_org_plan(event: EventView) -> None:
    claims = access_token_custom_claims()
    key = get_environment_variable("BILLING_API_KEY")
    answer = fetch(
        f"{os.environ['API_BASE_URL']}/billing/{event.context.user.id}/plan",
        headers={"X-Api-Key": key.value if key else "none"},
    )
    claims.org_plan = answer.data.get("plan")  # MARK


lambda_handler = create_handler(workflow_settings, add_org_plan)
'''
MARK = 'claims.org_plan = answer.data.get("plan")  # MARK'


def _free_base() -> int:
    """Seven consecutive free ports for make dev (others' stacks run here too)."""
    for _ in range(200):
        base = random.randrange(20000, 60000)
        if not busy_ports(dev_ports({"CLAIMFLOW_DEV_PORT_BASE": str(base)})):
            return base
    raise RuntimeError("no seven consecutive free ports")


@dataclass
class DevProcess:
    """A ``make dev`` (``python -m claimflow_local dev``) in the project, its output collected."""

    root: Path
    base: int
    process: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _ready: threading.Event = field(default_factory=threading.Event)

    def start(self, *, timeout: float = 240) -> float:
        environment = {**os.environ, "CLAIMFLOW_DEV_PORT_BASE": str(self.base)}
        environment.pop("CLAIMFLOW_LOCAL_STATE", None)  # the author's own local store: the point of the loop
        started = time.perf_counter()
        self._ready.clear()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "claimflow_local", "dev"],
            cwd=self.root,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(target=self._read, args=(self.process.stdout, self.lines, True), daemon=True).start()
        threading.Thread(target=self._read, args=(self.process.stderr, self.errors, False), daemon=True).start()
        if not self._ready.wait(timeout):
            raise AssertionError(f"make dev did not start: {self.errors[-20:]}")
        return time.perf_counter() - started

    def _read(self, stream: IO[str], into: list[str], banner: bool) -> None:
        for line in stream:
            into.append(line)
            if banner and "claimflow is running locally" in line:
                self._ready.set()

    def stop(self, sig: int = signal.SIGINT) -> float:
        assert self.process is not None
        started = time.perf_counter()
        self.process.send_signal(sig)
        self.process.wait(timeout=30)
        return time.perf_counter() - started

    def wait_for_line(self, text: str, *, after: int, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in self.lines[after:] if text in line), None)
            if found is not None:
                return found
            time.sleep(0.02)
        raise AssertionError(f"make dev never printed {text!r}: {self.lines[after:]}")

    def token(self) -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.base}/token",
            data=(self.root / "events" / "issuer.user-token.json").read_bytes(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                reply: dict[str, Any] = json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            reply = json.loads(refused.read())
        if "access_token" in reply:
            reply["claims"] = jwt.decode(reply["access_token"], options={"verify_signature": False})
        return reply


def claimflow(root: Path, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``./claimflow ...`` as typed in the project (the CLI finds the project from ``cwd``)."""
    environment = {**os.environ}
    environment.pop("CLAIMFLOW_LOCAL_STATE", None)
    return subprocess.run(
        [sys.executable, "-m", "claimflow_local.cli", *argv],
        cwd=cwd or root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _until(probe: Callable[[], Any], done: Callable[[Any], bool], *, timeout: float = 60) -> tuple[Any, float]:
    """Probe until ``done``; the result and how long since the first probe."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if done(result) or time.monotonic() > deadline:
            return result, time.perf_counter() - started
        time.sleep(0.02)


def walk(tmp_path: Path) -> tuple[dict[str, float], dict[str, Any]]:
    """Walk the loop once; (each step's seconds, what each step showed)."""
    root = project_copy(tmp_path)
    times: dict[str, float] = {}
    seen: dict[str, Any] = {}
    dev = DevProcess(root, _free_base())
    try:
        # 1. claimflow new, typed in a folder of the project
        run, times["new"] = _timed(
            lambda: claimflow(
                root,
                "new",
                "add-org-plan",
                "--trigger",
                "user:tokens_generation",
                "--bindings",
                "kinde.env",
                "kinde.fetch",
                cwd=root / "functions",
            )
        )
        seen["new"] = run
        # 2. the author's code: a fetch of their billing API, declared in local/third_party.yaml
        app = root / "functions" / "add_org_plan" / "app.py"
        app.write_text(WORKFLOW)
        with (root / "local" / "third_party.yaml").open("a") as routes:
            routes.write(BILLING_ROUTES)
        # 3. make dev (it builds the new function: the first start builds it from scratch)
        times["make_dev_start"] = dev.start()
        seen["first_token"] = dev.token()
        # 4. an edit: the next token carries it
        mark = len(dev.lines)
        _edit(app, MARK, MARK + '\n    claims.org_plan_source = "billing"')
        seen["edited_token"], times["save_to_token"] = _until(dev.token, lambda r: "org_plan_source" in r.get("claims", {}))
        seen["reload_line"] = dev.wait_for_line("reload: functions/add_org_plan/app.py", after=mark)
        # 5. env set --local: the running stack has it at once
        seen["env_set"], times["env_set_local"] = _timed(
            lambda: claimflow(root, "env", "set", "BILLING_API_KEY", "billing-key-1", "--secret", "--local")
        )
        seen["keyed_token"], times["env_set_to_token"] = _until(
            dev.token, lambda r: r.get("claims", {}).get("org_plan") == "team"
        )
        # 6. a restart: stopped by Ctrl-C, its ports free at once, the value still there
        times["make_dev_stop"] = dev.stop()
        seen["stop_errors"] = "".join(dev.errors)
        seen["ports_after_stop"] = busy_ports(dev_ports({"CLAIMFLOW_DEV_PORT_BASE": str(dev.base)}))
        dev.lines.clear()
        dev.errors.clear()
        times["make_dev_restart"] = dev.start()
        seen["restarted_token"] = dev.token()
        # 7. an exception in the workflow: preview names its file and line
        mark = len(dev.lines)
        _edit(app, MARK, 'claims.org_plan = answer.data["plans"][0]  # MARK')
        seen["exception_reload"] = dev.wait_for_line("reload: functions/add_org_plan/app.py", after=mark)
        seen["preview"], times["preview"] = _timed(lambda: claimflow(root, "preview", "--event", "events/issuer.user-token.json"))
        seen["failing_line"] = next(
            (i + 1 for i, line in enumerate(app.read_text().splitlines()) if 'answer.data["plans"]' in line), None
        )
        seen["refused_token"] = dev.token()
        seen["dev_report"] = dev.wait_for_line("KeyError", after=mark)
    finally:
        if dev.process is not None and dev.process.poll() is None:
            times["make_dev_final_stop"] = dev.stop(signal.SIGTERM)
            seen["final_stop_errors"] = "".join(dev.errors)
    return times, seen
