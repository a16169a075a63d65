"""The warm sandboxes of one function: reused while warm, one per concurrent invocation up to
the concurrency limit, discarded after a timeout or a configuration update (as Lambda)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from claimflow_local.emulator.sandbox import InitError, RuntimeClient, Sandbox
from claimflow_local.template import FunctionSpec

__all__ = ["FunctionHost", "FunctionPool", "InvokeResult", "ThrottledError"]


@dataclass
class InvokeResult:
    payload: bytes
    function_error: str | None = None
    cold: bool = False
    duration_ms: float = 0.0
    log_tail: str = ""  # what Lambda returns base64-encoded in X-Amz-Log-Result


class ThrottledError(Exception):
    """Every sandbox is busy and the function is at its concurrency limit (Lambda's 429)."""


@dataclass
class FunctionPool:
    spec: FunctionSpec
    env: Mapping[str, str]
    max_concurrency: int
    log: IO[str] | None
    client: RuntimeClient
    idle: list[Sandbox] = field(default_factory=list)
    busy: int = 0
    cold_starts: int = 0
    generation: int = 0  # bumped by a configuration update; older sandboxes are retired
    variables: dict[str, str] = field(default_factory=dict)  # the user-set environment, as Lambda reports it
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False  # the pool was replaced (a reload): sandboxes that come back are killed

    def start_sandbox(self, spec: FunctionSpec | None = None) -> Sandbox:
        """A new execution environment for ``spec`` (default: the pool's), not yet in the pool;
        raises ``InitError`` when the function's init fails (its import, its settings)."""
        return Sandbox(spec or self.spec, self.env, self.log, self.client, self.generation + 1)

    def swap(self, spec: FunctionSpec, warm: Sandbox) -> None:
        """Run ``spec`` (new code) from now on: ``warm`` (started with ``start_sandbox(spec)``)
        takes the next invocation; older sandboxes finish what they run and are retired."""
        with self.lock:
            self.spec = spec
            self.generation = warm.generation
            stale, self.idle = self.idle, [warm]
        for sandbox in stale:
            sandbox.kill()

    def reconfigure(self, env: Mapping[str, str], variables: Mapping[str, str]) -> None:
        """As UpdateFunctionConfiguration: new invocations get new sandboxes with the new environment."""
        with self.lock:
            self.env, self.variables = env, dict(variables)
            self.generation += 2  # past any sandbox start_sandbox made for the old environment
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

    def _acquire(self) -> tuple[Sandbox | None, bool]:
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
        keep = False
        try:
            if sandbox is None:
                try:
                    sandbox = Sandbox(self.spec, self.env, self.log, self.client, self.generation)
                except InitError as failed:  # as Lambda: every invoke reports the init error
                    body = json.dumps(failed.document).encode()
                    return InvokeResult(body, "Unhandled", cold, (time.perf_counter() - started) * 1000)
            answer = sandbox.invoke(json.dumps(payload).encode(), timeout=self.spec.timeout)
            keep = sandbox.alive and not answer.timed_out
            duration = (time.perf_counter() - started) * 1000
            if answer.error is not None:
                return InvokeResult(json.dumps(answer.error).encode(), "Unhandled", cold, duration, answer.log_tail)
            return InvokeResult(answer.result or b"null", None, cold, duration, answer.log_tail)
        finally:
            with self.lock:
                self.busy -= 1
                if keep and sandbox is not None and sandbox.generation == self.generation and not self.closed:
                    self.idle.append(sandbox)
                elif sandbox is not None:
                    sandbox.kill()

    def warm(self) -> None:
        """Start one sandbox ahead of the first invocation (like provisioned concurrency); a
        function whose init fails is left cold (its invocations report the error)."""
        try:
            sandbox = Sandbox(self.spec, self.env, self.log, self.client, self.generation)
        except InitError:
            return
        with self.lock:
            self.idle.append(sandbox)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            stale, self.idle = self.idle, []
        for sandbox in stale:  # every process told at once, then each waited for
            sandbox.terminate()
        for sandbox in stale:
            sandbox.kill()


class FunctionHost(Protocol):
    """What the HTTP fronts (invoke API, function URLs) need of the emulator behind them."""

    pools: dict[str, FunctionPool]

    def invoke(self, name: str, payload: Any) -> InvokeResult: ...

    def update_environment(self, name: str, variables: Mapping[str, str]) -> dict[str, Any]: ...
