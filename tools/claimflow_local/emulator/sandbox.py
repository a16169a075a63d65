"""One Lambda execution environment: a worker process with the function's code and layers on
its path and Lambda's environment, warm between invocations."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from claimflow_local.template import FunctionSpec

__all__ = ["Sandbox", "lambda_environment"]

WORKER = Path(__file__).with_name("worker.py")


def lambda_environment(spec: FunctionSpec) -> dict[str, str]:
    """The variables Lambda itself sets for a function (before the function's own)."""
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT") if k in os.environ}
    return {
        **keep,
        "PYTHONPATH": os.pathsep.join(str(p) for p in (spec.code_dir, *spec.layer_dirs)),
        "PYTHONUNBUFFERED": "1",
        "_HANDLER": spec.handler,
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout)),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }


class Sandbox:
    """One worker process: a warm Lambda execution environment."""

    def __init__(self, spec: FunctionSpec, env: Mapping[str, str], log: IO[str] | None, generation: int = 0) -> None:
        self.spec = spec
        self.generation = generation
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER)],
            cwd=spec.code_dir,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log if log is not None else None,
            text=True,
            bufsize=1,
        )
        ready = self._read_line(timeout=30.0)
        if ready is None:
            self.kill()
            raise RuntimeError(f"function {spec.name} did not start within 30 s")
        self.init_ms = float(json.loads(ready).get("init_ms", 0.0))

    def _read_line(self, *, timeout: float) -> str | None:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, timeout))
        if not ready:
            return None
        line = self.process.stdout.readline()
        return line or None

    def invoke(self, payload: Any, *, request_id: str, timeout: float) -> dict[str, Any] | None:
        """The worker's answer, or None when it did not answer in time or died."""
        assert self.process.stdin is not None
        deadline_ms = time.time() * 1000 + timeout * 1000
        try:
            self.process.stdin.write(
                json.dumps({"payload": payload, "request_id": request_id, "deadline_ms": deadline_ms}) + "\n"
            )
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return {"ok": False, "error": {"errorType": "Runtime.ExitError", "errorMessage": "the runtime exited"}}
        line = self._read_line(timeout=timeout)
        if line is None:
            if self.process.poll() is not None:
                return {
                    "ok": False,
                    "error": {
                        "errorType": "Runtime.ExitError",
                        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                        f"exit status {self.process.returncode}",
                    },
                }
            return None
        answer: dict[str, Any] = json.loads(line)
        return answer

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
