"""A test-only runtime for SAM CLI's local invoke: ``sam local invoke`` and ``sam local
start-lambda`` with no Docker engine, for the tests of what this project ships for sam local.

SAM CLI lays local invoke out in layers (its runner, ``samcli/local/lambdafn/runtime.py``'s
``LambdaRuntime``, the Docker container); ``InvokeContext`` builds the runtime. This module
replaces that runtime with one whose ``invoke`` runs the built function through the same
runtime interface client the emulator runs (``claimflow_local.emulator.sandbox``: awslambdaric
on the built artifacts) in a subprocess instead of a container. Everything above the seam is
SAM CLI's own: the template and ``--parameter-overrides``, ``samconfig.toml``, the env-vars
file, the event, the output. Inside a container ``host.docker.internal`` is the host; here the
runtime maps it to ``127.0.0.1`` (what ``--add-host host.docker.internal:host-gateway`` does).
A claims-hook sample (``events/hooks.*``) is signed as its stack would sign it, now
(``claimflow_local.hook_callers``): a signature made once goes stale.

Run it as SAM CLI, with SAM CLI's Python::

    .venv-sam/bin/python tools/claimflow_local/sam_local_runtime.py local invoke IssuerFunction -e events/issuer.user-token.json

Written for aws-sam-cli 1.170.0: any other version is refused, since the seam may have moved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

SAM_CLI_VERSION = "1.170.0"
CONTAINER_HOST = "host.docker.internal"


def _check_version() -> None:
    from samcli import __version__

    if __version__ != SAM_CLI_VERSION:
        raise SystemExit(
            f"sam_local_runtime was written for aws-sam-cli {SAM_CLI_VERSION} (LambdaRuntime.invoke, "
            f"InvokeContext.lambda_runtime); this is {__version__}: check the seam, then update SAM_CLI_VERSION"
        )


class _LogSink:
    """The sandbox's log lines, to SAM CLI's stderr writer (what the container's logs go to)."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def write(self, text: str) -> None:
        if self._writer is not None:
            self._writer.write_str(text)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()


def _signed_if_hook_call(event: str | bytes) -> str | bytes:
    """A claims-hook call signed now by ``claimflow_local.hook_callers``, run by the project's
    Python, which has the stacks' libraries (Standard Webhooks, PyJWT); SAM CLI's has not."""
    try:
        document = json.loads(event)
    except ValueError:
        return event
    if not (isinstance(document, dict) and str(document.get("rawPath", "")).startswith("/hooks/")):
        return event
    root = Path(__file__).resolve().parents[2]
    path = os.pathsep.join([str(root / "layers" / "claimflow"), str(root / "tools")])
    run = subprocess.run(
        [str(root / ".venv" / "bin" / "python"), "-m", "claimflow_local.hook_callers", "-"],
        input=event if isinstance(event, str) else event.decode(),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
        timeout=60,
        check=False,
    )
    if run.returncode != 0:
        raise SystemExit(f"sam_local_runtime: cannot sign the claims-hook call: {run.stderr.strip()}")
    return run.stdout


class SubprocessLambdaRuntime:
    """SAM CLI's ``LambdaRuntime`` interface, running each invoke in a sandbox process.

    A sandbox that answered stays warm for the next invoke of the same function, code and
    environment, as SAM's warm containers do (samconfig.toml's start-lambda asks for EAGER): a
    long-lived ``sam local start-lambda`` then pays one cold start per function, not one per
    invoke. ``sam local invoke`` runs one invoke and exits, so it is cold every time, as it is
    with containers."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, ...], list[Any]] = {}
        self._lock = threading.Lock()

    def invoke(self, function_config: Any, event: str, *args: Any, stdout: Any = None, stderr: Any = None, **kwargs: Any) -> None:
        from claimflow_local.emulator.sandbox import InitError, Sandbox, lambda_environment, runtime_client
        from claimflow_local.template import FunctionSpec

        variables = {
            name: str(value).replace(CONTAINER_HOST, "127.0.0.1") for name, value in function_config.env_vars.resolve().items()
        }
        spec = FunctionSpec(
            name=function_config.name,
            handler=function_config.handler,
            code_dir=Path(function_config.code_abs_path),
            layer_dirs=tuple(Path(layer.codeuri) for layer in function_config.layers),
            runtime=function_config.runtime,
            timeout=float(function_config.timeout),
            memory_mb=int(function_config.memory),
            environment=variables,
        )
        log = _LogSink(stderr)
        payload = _signed_if_hook_call(event)
        key = (spec.name, str(spec.code_dir), *(str(d) for d in spec.layer_dirs), json.dumps(variables, sort_keys=True))
        answer: bytes | None
        with self._lock:
            idle = self._idle.setdefault(key, [])
            sandbox = idle.pop() if idle else None
        try:
            if sandbox is None:
                sandbox = Sandbox(spec, {**lambda_environment(spec), **variables}, log, runtime_client(spec.runtime))
            else:
                sandbox.log_to(log)  # this invoke's log lines go to this invoke's stderr
        except InitError as failed:
            answer = json.dumps(failed.document).encode()
        else:
            result = None
            try:
                result = sandbox.invoke(payload.encode() if isinstance(payload, str) else payload, timeout=spec.timeout)
            finally:
                if result is not None and sandbox.alive and not result.timed_out:
                    with self._lock:
                        self._idle.setdefault(key, []).append(sandbox)
                else:
                    sandbox.kill()
            answer = result.result if result.error is None else json.dumps(result.error).encode()
            # The END and REPORT lines the container's runtime prints (its own lines went out live);
            # REPORT carries Init Duration on a sandbox's first invoke only, as Lambda's does.
            log.write(result.log_tail[result.log_tail.rfind("END RequestId:") :])
            log.flush()
        if stdout is not None:
            stdout.write_bytes(answer or b"null")
            stdout.flush()
        return None

    # The rest of LambdaRuntime's interface: nothing to prepare or clean without containers.
    def run(self, *args: Any, **kwargs: Any) -> None:
        return None

    def create(self, *args: Any, **kwargs: Any) -> None:
        return None

    def clean_runtime_containers(self) -> None:
        self._stop_warm()

    def clean_running_containers_and_related_resources(self) -> None:
        self._stop_warm()

    def _stop_warm(self) -> None:
        with self._lock:
            warm, self._idle = [s for idle in self._idle.values() for s in idle], {}
        for sandbox in warm:
            sandbox.kill()


def install() -> None:
    """Put the subprocess runtime where InvokeContext builds its runtime."""
    _check_version()
    from samcli.commands.local.cli_common import invoke_context

    runtime = SubprocessLambdaRuntime()
    invoke_context.InvokeContext.lambda_runtime = property(lambda self: runtime)  # type: ignore[assignment,method-assign]
    invoke_context.InvokeContext._get_container_manager = staticmethod(lambda *a, **k: None)  # type: ignore[method-assign]
    invoke_context.InvokeContext._initialize_all_functions_containers = lambda self: []  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/, for claimflow_local
    install()
    from samcli.cli.main import cli

    cli.main(args=argv, prog_name="sam")


if __name__ == "__main__":
    main(sys.argv[1:])
