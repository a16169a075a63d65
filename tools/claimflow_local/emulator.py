"""Local Lambda emulation without containers: the Lambda Invoke API on a loopback port.

Reads ``template.yaml``; runs each function's handler in warm worker processes (one
sandbox per concurrent invocation, reused while warm, killed and replaced after a timeout),
with the function's code and layers on its path and its template environment. Errors come
back as Lambda reports them: HTTP 200 with ``X-Amz-Function-Error: Unhandled`` and an
``errorType``/``errorMessage`` body; unknown functions 404 ``ResourceNotFoundException``;
too many concurrent invocations 429 ``TooManyRequestsException``. Same idea and API shape
as ``sam local start-lambda``; functions with ``FunctionUrlConfig`` also get a URL server.
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from claimflow_local.loopback import LoopbackServer
from claimflow_local.template import FunctionSpec, Template

__all__ = ["InvokeResult", "LambdaEmulator"]

WORKER = Path(__file__).with_name("worker.py")
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
_INVOKE_PATH = "/2015-03-31/functions/"


@dataclass
class InvokeResult:
    payload: bytes
    function_error: str | None = None
    cold: bool = False
    duration_ms: float = 0.0


class ThrottledError(Exception):
    pass


class _Sandbox:
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


@dataclass
class _Pool:
    spec: FunctionSpec
    env: Mapping[str, str]
    max_concurrency: int
    log: IO[str] | None
    idle: list[_Sandbox] = field(default_factory=list)
    busy: int = 0
    invocations: int = 0
    cold_starts: int = 0
    generation: int = 0  # bumped by a configuration update; older sandboxes are retired
    variables: dict[str, str] = field(default_factory=dict)  # the user-set environment, as Lambda reports it
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reconfigure(self, env: Mapping[str, str], variables: Mapping[str, str]) -> None:
        """As UpdateFunctionConfiguration: new invocations get new sandboxes with the new environment."""
        with self.lock:
            self.env, self.variables = env, dict(variables)
            self.generation += 1
            stale, self.idle = self.idle, []
        for sandbox in stale:
            sandbox.kill()

    def configuration(self) -> dict[str, Any]:
        return {
            "FunctionName": self.spec.name,
            "FunctionArn": self.spec.arn,
            "Runtime": self.spec.runtime,
            "Handler": self.spec.handler,
            "Timeout": int(self.spec.timeout),
            "MemorySize": self.spec.memory_mb,
            "Environment": {"Variables": dict(self.variables)},
            "State": "Active",
            "LastUpdateStatus": "Successful",
        }

    def _acquire(self) -> tuple[_Sandbox | None, bool]:
        with self.lock:
            while self.idle:
                sandbox = self.idle.pop()
                if sandbox.alive:
                    self.busy += 1
                    return sandbox, False
            if self.busy >= self.max_concurrency:
                raise ThrottledError(self.spec.name)
            self.busy += 1
            self.cold_starts += 1
        return None, True

    def invoke(self, payload: Any) -> InvokeResult:
        started = time.perf_counter()
        sandbox, cold = self._acquire()
        request_id = str(uuid.uuid4())
        keep = False
        try:
            if sandbox is None:
                sandbox = _Sandbox(self.spec, self.env, self.log, self.generation)
            answer = sandbox.invoke(payload, request_id=request_id, timeout=self.spec.timeout)
            if answer is None:  # timed out: Lambda freezes and discards the sandbox
                sandbox.kill()
                body = {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: Task timed out after {self.spec.timeout:.2f} seconds",
                }
                return InvokeResult(json.dumps(body).encode(), "Unhandled", cold, (time.perf_counter() - started) * 1000)
            keep = sandbox.alive
            if answer.get("ok"):
                return InvokeResult(json.dumps(answer["result"]).encode(), None, cold, (time.perf_counter() - started) * 1000)
            return InvokeResult(json.dumps(answer["error"]).encode(), "Unhandled", cold, (time.perf_counter() - started) * 1000)
        finally:
            with self.lock:
                self.busy -= 1
                self.invocations += 1
                if keep and sandbox is not None and sandbox.generation == self.generation:
                    self.idle.append(sandbox)
                elif sandbox is not None and sandbox.alive:
                    sandbox.kill()

    def warm(self) -> None:
        """Start one sandbox ahead of the first invocation (like provisioned concurrency)."""
        sandbox = _Sandbox(self.spec, self.env, self.log, self.generation)
        with self.lock:
            self.idle.append(sandbox)

    def close(self) -> None:
        with self.lock:
            for sandbox in self.idle:
                sandbox.kill()
            self.idle.clear()


def _base_env(spec: FunctionSpec) -> dict[str, str]:
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


class LambdaEmulator:
    """The Lambda Invoke API for the functions of one template, on 127.0.0.1."""

    def __init__(
        self,
        template_path: Path,
        *,
        parameter_overrides: Mapping[str, str] | None = None,
        env_vars: Mapping[str, Mapping[str, str]] | None = None,
        port: int = 0,
        url_ports: Mapping[str, int] | None = None,
        max_concurrency: int = 32,
        log: IO[str] | None = None,
    ) -> None:
        self._template_path = template_path
        self._overrides = dict(parameter_overrides or {})
        self._env_vars = {k: dict(v) for k, v in (env_vars or {}).items()}
        self._port = port
        self._url_ports = dict(url_ports or {})
        self._max_concurrency = max_concurrency
        self._log = log
        self.pools: dict[str, _Pool] = {}
        self.function_urls: dict[str, str] = {}
        self._servers: list[LoopbackServer] = []

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> LambdaEmulator:
        probe = Template.load(self._template_path, parameter_overrides=self._overrides)
        url_functions = [s for s in probe.functions().values() if s.function_url]
        for spec in url_functions:
            url_server = LoopbackServer(_url_handler(self, spec.name), port=self._url_ports.get(spec.name, 0))
            self._servers.append(url_server)
            self.function_urls[spec.name] = f"http://127.0.0.1:{url_server.server_address[1]}/"
        invoke_server = LoopbackServer(_invoke_handler(self), port=self._port)
        self._servers.insert(0, invoke_server)
        # Functions that invoke functions (the issuer) reach this emulator, as in AWS they reach Lambda.
        own = {"AWS_ENDPOINT_URL_LAMBDA": self.endpoint_url}
        template = Template.load(self._template_path, parameter_overrides=self._overrides, function_urls=self.function_urls)
        self._own_env = own
        for name, spec in template.functions().items():
            environment = self._environment(spec, spec.environment)
            self.pools[name] = _Pool(spec, environment, self._max_concurrency, self._log, variables=dict(spec.environment))
        for server in self._servers:
            server.start(f"emulator-{server.port}")
        return self

    def _environment(self, spec: FunctionSpec, variables: Mapping[str, str]) -> dict[str, str]:
        """Lambda's own variables, the function's, then the local overrides (like sam local --env-vars)."""
        overrides = {**self._env_vars.get("Parameters", {}), **self._env_vars.get(spec.name, {})}
        return {**_base_env(spec), **self._own_env, **variables, **overrides}

    def update_environment(self, name: str, variables: Mapping[str, str]) -> dict[str, Any]:
        pool = self.pools[name]
        pool.reconfigure(self._environment(pool.spec, variables), variables)
        return pool.configuration()

    def warm(self, *names: str, count: int = 1) -> None:
        """Start ``count`` sandboxes per function ahead of traffic (like provisioned concurrency)."""
        from concurrent.futures import ThreadPoolExecutor

        jobs = [self.pools[n] for n in (names or tuple(self.pools)) for _ in range(count)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda p: p.warm(), jobs))

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        for pool in self.pools.values():
            pool.close()

    def __enter__(self) -> LambdaEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self._servers[0].port}"

    # --- invoking --------------------------------------------------------------------------------

    def invoke(self, name: str, payload: Any) -> InvokeResult:
        pool = self.pools.get(name)
        if pool is None:
            raise KeyError(name)
        return pool.invoke(payload)


def _function_name(raw: str) -> str:
    name = unquote(raw)
    if name.startswith("arn:"):
        parts = name.split(":")
        return parts[6] if len(parts) > 6 else parts[-1]
    return name.split(":", 1)[0]


def _invoke_handler(emulator: LambdaEmulator) -> type[BaseHTTPRequestHandler]:
    class InvokeHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as boto3 expects
        disable_nagle_algorithm = True  # headers and body go out separately; no 40 ms delayed-ACK stall

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, error_type: str, message: str) -> None:
            body = json.dumps({"Type": "User", "message": message}).encode()
            self._send(status, body, {"x-amzn-ErrorType": error_type})

        def _configuration_target(self) -> str | None:
            path = urlsplit(self.path).path
            if path.startswith(_INVOKE_PATH) and path.endswith("/configuration"):
                name = _function_name(path[len(_INVOKE_PATH) : -len("/configuration")])
                if name in emulator.pools:
                    return name
                self._error(404, "ResourceNotFoundException", f"Function not found: {name}")
                return None
            self._error(404, "ResourceNotFoundException", f"unsupported path {path}")
            return None

        def do_GET(self) -> None:  # GetFunctionConfiguration
            name = self._configuration_target()
            if name is not None:
                self._send(200, json.dumps(emulator.pools[name].configuration()).encode())

        def do_PUT(self) -> None:  # UpdateFunctionConfiguration (the environment)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            name = self._configuration_target()
            if name is None:
                return
            variables = body.get("Environment", {}).get("Variables")
            if variables is None:
                self._send(200, json.dumps(emulator.pools[name].configuration()).encode())
                return
            self._send(200, json.dumps(emulator.update_environment(name, variables)).encode())

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not (path.startswith(_INVOKE_PATH) and path.endswith("/invocations")):
                self._error(404, "ResourceNotFoundException", f"unsupported path {path}")
                return
            name = _function_name(path[len(_INVOKE_PATH) : -len("/invocations")])
            if name not in emulator.pools:
                self._error(
                    404, "ResourceNotFoundException", f"Function not found: arn:aws:lambda:us-east-1:123456789012:function:{name}"
                )
                return
            if length > MAX_PAYLOAD_BYTES:
                self._error(
                    413,
                    "RequestTooLargeException",
                    f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation",
                )
                return
            try:
                payload = json.loads(raw or b"{}")
            except (ValueError, RecursionError):
                self._error(400, "InvalidRequestContentException", "Could not parse request body into json")
                return
            invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
            if invocation_type == "DryRun":
                self._send(204, b"")
                return
            if invocation_type == "Event":
                threading.Thread(target=emulator.invoke, args=(name, payload), daemon=True).start()
                self._send(202, b"")
                return
            try:
                result = emulator.invoke(name, payload)
            except ThrottledError:
                self._error(429, "TooManyRequestsException", "Rate Exceeded.")
                return
            headers = {"X-Amz-Executed-Version": "$LATEST"}
            if result.function_error:
                headers["X-Amz-Function-Error"] = result.function_error
            if self.headers.get("X-Amz-Log-Type") == "Tail":
                headers["X-Amz-Log-Result"] = base64.b64encode(
                    f"REPORT Duration: {result.duration_ms:.2f} ms\n".encode()
                ).decode()
            self._send(200, result.payload, headers)

    return InvokeHandler


def _url_handler(emulator: LambdaEmulator, function: str) -> type[BaseHTTPRequestHandler]:
    class UrlHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out separately; no 40 ms delayed-ACK stall

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", errors="replace") if length else None
            event = {
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": parts.path,
                "rawQueryString": parts.query,
                "queryStringParameters": dict(parse_qsl(parts.query)) or None,
                "headers": {**{k.lower(): v for k, v in self.headers.items()}, "x-forwarded-proto": "http"},
                "requestContext": {
                    "accountId": "anonymous",
                    "apiId": "local",
                    "domainName": self.headers.get("Host", "127.0.0.1"),
                    "http": {
                        "method": self.command,
                        "path": parts.path,
                        "protocol": "HTTP/1.1",
                        "sourceIp": self.client_address[0],
                        "userAgent": self.headers.get("User-Agent", ""),
                    },
                    "requestId": str(uuid.uuid4()),
                    "routeKey": "$default",
                    "stage": "$default",
                    "timeEpoch": int(time.time() * 1000),
                },
                "body": body,
                "isBase64Encoded": False,
            }
            try:
                result = emulator.invoke(function, event)
            except ThrottledError:
                self._reply(429, {}, b'{"message":"Rate Exceeded."}')
                return
            if result.function_error:
                self._reply(502, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}')
                return
            answer = json.loads(result.payload)
            if isinstance(answer, dict) and "statusCode" in answer:
                raw = answer.get("body") or ""
                data = base64.b64decode(raw) if answer.get("isBase64Encoded") else str(raw).encode()
                self._reply(int(answer["statusCode"]), answer.get("headers") or {}, data)
            else:
                self._reply(200, {"Content-Type": "application/json"}, json.dumps(answer).encode())

        def _reply(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _handle

    return UrlHandler
