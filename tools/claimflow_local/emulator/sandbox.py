"""One Lambda execution environment: a runtime interface client in its own process, on a
function's built artifacts, talking the Lambda Runtime API to this sandbox's ``RuntimeApi``.

What runs is what deploys: the task root is the function's built directory (``.aws-sam/build/
<LogicalId>``), each layer's ``python/`` directory stands where Lambda mounts ``/opt/python``,
and the runtime's own packages (AWS's ``awslambdaric``, and boto3, which the Lambda runtime
carries) come from a runtime directory of their own. The interpreter starts with ``-S``: no
site-packages, so nothing of the development venv can mask a dependency the layer lacks.
Where no awslambdaric wheel exists, a small built-in client speaking the same API stands in.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from claimflow_local.emulator.runtime_api import Invocation, RuntimeApi
from claimflow_local.template import FunctionSpec

__all__ = [
    "InitError",
    "LogSink",
    "RuntimeClient",
    "Sandbox",
    "SandboxAnswer",
    "SandboxStartError",
    "lambda_environment",
    "runtime_client",
    "runtime_interpreter",
]

BUILTIN_CLIENT = Path(__file__).with_name("runtime_client.py")
INIT_TIMEOUT_SECONDS = 30.0  # Lambda allows 10 s; a loaded CI machine needs more for a cold interpreter
LOG_TAIL_BYTES = 4096


@dataclass(frozen=True)
class RuntimeClient:
    """How a sandbox starts its runtime: the command (the handler is appended) and the runtime's
    own packages, which Lambda keeps outside the function (``/var/runtime``)."""

    name: str
    command: tuple[str, ...]
    runtime_dir: Path | None


def runtime_interpreter(runtime: str) -> str:
    version = runtime.removeprefix("python")
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return str(getattr(sys, "_base_executable", sys.executable))
    found = shutil.which(f"python{version}")
    if found is None:
        raise RuntimeError(f"the functions run on {runtime}, and no python{version} is on PATH")
    return found


def runtime_client(runtime: str, runtime_dir: Path | None = None, *, prefer: str | None = None) -> RuntimeClient:
    """The runtime client sandboxes run: AWS's awslambdaric when the runtime directory has it
    (``CLAIMFLOW_RUNTIME_CLIENT=builtin`` forces the built-in one), else the built-in client."""
    runtime_dir = runtime_dir or _default_runtime_dir(runtime)
    prefer = prefer or os.environ.get("CLAIMFLOW_RUNTIME_CLIENT", "auto")
    python = runtime_interpreter(runtime)
    has_ric = runtime_dir is not None and (runtime_dir / "awslambdaric" / "__init__.py").exists()
    if prefer != "builtin" and has_ric:
        assert runtime_dir is not None
        version = next(
            (p.name[len("awslambdaric-") : -len(".dist-info")] for p in runtime_dir.glob("awslambdaric-*.dist-info")), "?"
        )
        return RuntimeClient(f"awslambdaric {version}", (python, "-S", "-m", "awslambdaric"), runtime_dir)
    if prefer == "awslambdaric":
        raise RuntimeError(f"awslambdaric is not installed in {runtime_dir}; run make (it installs the local Lambda runtime)")
    return RuntimeClient("built-in runtime client", (python, "-S", str(BUILTIN_CLIENT)), runtime_dir)


def _default_runtime_dir(runtime: str) -> Path | None:
    configured = os.environ.get("CLAIMFLOW_LAMBDA_RUNTIME_DIR")
    if configured:
        return Path(configured)
    candidate = Path(__file__).resolve().parents[3] / ".lambda-runtime" / runtime
    return candidate if candidate.exists() else None


def lambda_environment(spec: FunctionSpec) -> dict[str, str]:
    """The variables Lambda itself sets for a function (before the function's own)."""
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "TMPDIR", "SYSTEMROOT") if k in os.environ}
    return {
        **keep,
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONUNBUFFERED": "1",
        # /var/task and /opt are read-only in Lambda: a sandbox never writes bytecode beside the
        # built code, so it runs what the build shipped (and a cold start costs what Lambda's does).
        "PYTHONDONTWRITEBYTECODE": "1",
        "_HANDLER": spec.handler,
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout)),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }


def python_path(spec: FunctionSpec, client: RuntimeClient) -> str:
    """Lambda's sys.path order: the task root, each layer's python/ (site-packages first), the runtime."""
    version = spec.runtime.removeprefix("python")
    parts: list[Path] = [spec.code_dir]
    for layer in spec.layer_dirs:
        parts += [layer / "python" / "lib" / f"python{version}" / "site-packages", layer / "python"]
    if client.runtime_dir is not None:
        parts.append(client.runtime_dir)
    return os.pathsep.join(str(p) for p in parts)


class LogSink(Protocol):
    """Where a sandbox's output goes (a file, SAM CLI's stderr writer)."""

    def write(self, text: str, /) -> Any: ...

    def flush(self) -> None: ...


class InitError(Exception):
    """The sandbox could not start: the error document Lambda would report for every invoke."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        super().__init__(document.get("errorMessage", ""))
        self.document = dict(document)


@dataclass
class SandboxAnswer:
    """What one invocation came to: the response body, or the error document."""

    result: bytes | None
    error: dict[str, Any] | None
    log_tail: str
    timed_out: bool = False


class SandboxStartError(Exception):
    """A sandbox could not start: the emulator's failure (a service error), not the function's."""


class Sandbox:
    """One runtime process: a warm Lambda execution environment."""

    def __init__(
        self, spec: FunctionSpec, env: Mapping[str, str], log: LogSink | None, client: RuntimeClient, generation: int = 0
    ) -> None:
        self.spec = spec
        self.generation = generation
        self.client = client
        self._log = log
        self._lines: list[str] = []
        self._partial = b""  # output after the last newline
        self._output_lock = threading.Lock()
        self._inflight: Invocation | None = None
        self._init_ms: float | None = None  # reported once, on the first invoke's REPORT line, as Lambda does
        if not spec.code_dir.is_dir():
            raise SandboxStartError(
                f"{spec.name}'s built folder {spec.code_dir} is gone (removed by a rebuild?): run sam build, then restart"
            )
        self.api = RuntimeApi().start()
        init_started = time.perf_counter()
        environment = {
            **env,
            "LAMBDA_TASK_ROOT": str(spec.code_dir),  # this sandbox's code (a reload gives a new one)
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "PYTHONPATH": python_path(spec, client),
            "LAMBDA_RUNTIME_DIR": str(client.runtime_dir or ""),
        }
        try:
            self.process = subprocess.Popen(
                [*client.command, spec.handler],
                cwd=spec.code_dir,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C in make dev's terminal is make dev's to handle (it stops
                # every sandbox), not a KeyboardInterrupt traceback from each runtime.
                start_new_session=True,
            )
        except OSError as error:
            self.api.stop()
            raise SandboxStartError(f"{spec.name}'s runtime client could not start: {error}") from error
        assert self.process.stdout is not None
        self._output = self.process.stdout.fileno()
        os.set_blocking(self._output, False)
        threading.Thread(target=self._read_output, name=f"sandbox-log-{spec.name}", daemon=True).start()
        threading.Thread(target=self._watch, name=f"sandbox-watch-{spec.name}", daemon=True).start()
        self._wait_for_init()
        self._init_ms = (time.perf_counter() - init_started) * 1000

    def _wait_for_init(self) -> None:
        deadline = time.monotonic() + INIT_TIMEOUT_SECONDS
        while not (self.api.ready.is_set() or self.api.init_failed.is_set()):
            if self.process.poll() is not None:
                self.kill()
                raise InitError(_exit_error(self.process.returncode))
            if time.monotonic() > deadline:
                self.kill()
                raise InitError(
                    {"errorType": "Sandbox.Timedout", "errorMessage": f"init did not finish in {INIT_TIMEOUT_SECONDS:.0f} s"}
                )
            self.api.ready.wait(0.01)
        if self.api.init_failed.is_set():
            document = self.api.init_error or {"errorType": "Runtime.Unknown", "errorMessage": "init failed"}
            self.kill()
            raise InitError(document)

    def _read_output(self) -> None:
        while self._drain_output():
            if sys.platform == "win32":  # select() takes sockets only there
                time.sleep(0.01)
            else:
                select.select([self._output], [], [], 1.0)

    def _drain_output(self) -> bool:
        """Take in, line by line, everything the runtime has written so far; False once it has
        closed its output. Under one lock with the reader thread, so a caller that drains after
        the runtime posted its response has every line the handler printed (the runtime writes
        unbuffered, before it posts)."""
        with self._output_lock:
            while True:
                try:
                    chunk = os.read(self._output, 65536)
                except BlockingIOError:
                    return True
                except OSError:  # closed under us at shutdown
                    chunk = b""
                if not chunk:  # end of output: a last line without its newline is still a line
                    if self._partial:
                        self._take(self._partial.decode("utf-8", errors="replace") + "\n")
                        self._partial = b""
                    return False
                *complete, self._partial = (self._partial + chunk).split(b"\n")
                for raw in complete:
                    self._take(raw.decode("utf-8", errors="replace") + "\n")

    def _take(self, line: str) -> None:
        self._lines.append(line)
        if self._log is not None:
            with contextlib.suppress(ValueError):  # the log file was closed at shutdown
                self._log.write(line)
                self._log.flush()

    def _watch(self) -> None:
        code = self.process.wait()
        inflight = self._inflight
        if inflight is not None:
            inflight.finish(error=_exit_error(code, request_id=inflight.request_id))

    def log_to(self, log: LogSink | None) -> None:
        """Where the sandbox's output goes from now on (a warm sandbox writes to the next invoke's log)."""
        self._log = log

    def invoke(self, payload: bytes, *, timeout: float) -> SandboxAnswer:
        invocation = Invocation(payload=payload, deadline_ms=int(time.time() * 1000 + timeout * 1000), function_arn=self.spec.arn)
        mark = len(self._lines)
        started = time.perf_counter()
        self._inflight = invocation
        self.api.submit(invocation)
        if self.process.poll() is not None:  # it died between invocations
            invocation.finish(error=_exit_error(self.process.returncode, request_id=invocation.request_id))
        finished = invocation.done.wait(timeout)
        self._inflight = None
        if not finished:
            self.kill()
            invocation.finish(
                error={
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": (
                        f"RequestId: {invocation.request_id} Error: Task timed out after {self.spec.timeout:.2f} seconds"
                    ),
                }
            )
        elapsed_ms = (time.perf_counter() - started) * 1000
        return SandboxAnswer(
            invocation.result, invocation.error, self._tail(invocation.request_id, mark, elapsed_ms), timed_out=not finished
        )

    def _tail(self, request_id: str, mark: int, elapsed_ms: float) -> str:
        self._drain_output()  # every line printed before the response, whatever the reader thread has got to
        init, self._init_ms = ("" if self._init_ms is None else f"Init Duration: {self._init_ms:.2f} ms\t"), None
        text = (
            f"START RequestId: {request_id} Version: $LATEST\n"
            + "".join(self._lines[mark:])
            + f"END RequestId: {request_id}\n"
            + f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\tBilled Duration: {int(elapsed_ms) + 1} ms\t"
            + f"Memory Size: {self.spec.memory_mb} MB\tMax Memory Used: {self.peak_rss_mb()} MB\t{init}\n"
        )
        return text.encode()[-LOG_TAIL_BYTES:].decode("utf-8", errors="ignore")

    def peak_rss_mb(self) -> int:
        """The sandbox's peak resident memory (Linux; 0 where /proc is not there)."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0
        line = next((line for line in status.splitlines() if line.startswith("VmHWM:")), "VmHWM: 0 kB")
        return int(line.split()[1]) // 1024

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> None:
        """Kill the runtime without waiting for it (``kill`` then waits)."""
        if self.process.poll() is None:
            self.process.kill()

    def kill(self) -> None:
        self.terminate()
        self.process.wait()
        self.api.stop()


def _exit_error(code: int | None, *, request_id: str = "") -> dict[str, Any]:
    prefix = f"RequestId: {request_id} " if request_id else ""
    return {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"{prefix}Error: Runtime exited with error: exit status {code}",
    }
