"""Local Lambda emulation without containers, laid out as SAM CLI's local invoke is: the
built template (``claimflow_local.template``; ``sam build`` writes it) → a pool of warm
sandboxes per function (``pool``), each a runtime interface client on the built artifacts
speaking the Lambda Runtime API (``sandbox``, ``runtime_api``) → the Lambda Invoke API
(``invoke_api``) and Function URLs (``function_url``) on loopback ports. Same idea and API
shape as ``sam local start-lambda``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from claimflow_local.emulator.function_url import function_url_handler
from claimflow_local.emulator.invoke_api import invoke_api_handler
from claimflow_local.emulator.pool import FunctionPool, InvokeResult
from claimflow_local.emulator.sandbox import InitError, RuntimeClient, Sandbox, lambda_environment, runtime_client
from claimflow_local.loopback import LoopbackServer
from claimflow_local.template import FunctionSpec, SamTemplate

__all__ = ["LambdaEmulator"]


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
        client: RuntimeClient | None = None,
        observer: Callable[[str, InvokeResult], None] | None = None,
    ) -> None:
        """``template_path``: a built template (``.aws-sam/build/template.yaml``): each CodeUri a
        task root, each layer's ContentUri what Lambda mounts at ``/opt``. ``observer`` is told
        of every invocation's result (make dev prints a refused token's report)."""
        self.template = SamTemplate.load(template_path, parameter_overrides=parameter_overrides)
        self._overrides = dict(parameter_overrides or {})
        self._observer = observer
        self._client = client
        self._env_vars = {k: dict(v) for k, v in (env_vars or {}).items()}
        self._port = port
        self._url_ports = dict(url_ports or {})
        self._max_concurrency = max_concurrency
        self._log = log
        self.pools: dict[str, FunctionPool] = {}
        self._invoke_server: LoopbackServer | None = None
        self._url_servers: list[LoopbackServer] = []

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def function_urls(self) -> dict[str, str]:
        return self.template.function_urls

    def start(self) -> LambdaEmulator:
        self._invoke_server = LoopbackServer(invoke_api_handler(self), port=self._port)
        for name in self.template.url_functions():
            server = LoopbackServer(function_url_handler(self, name), port=self._url_ports.get(name, 0))
            self._url_servers.append(server)
            self.template.function_urls[name] = f"{server.base_url}/"
        # Now that the URLs are bound, resolve the environments that name them.
        self.pools = self._pools(self.template)
        for server in (self._invoke_server, *self._url_servers):
            server.start(f"emulator-{server.port}")
        return self

    def _pools(self, template: SamTemplate) -> dict[str, FunctionPool]:
        pools = {}
        for name, spec in template.functions().items():
            environment = self._environment(spec, spec.environment)
            client = self._client or runtime_client(spec.runtime)
            variables = dict(spec.environment)
            pools[name] = FunctionPool(spec, environment, self._max_concurrency, self._log, client, variables=variables)
        return pools

    # --- new code while running (make dev's hot reload) ---------------------------------------

    def replace_code(self, changes: Mapping[str, Callable[[FunctionSpec], FunctionSpec]]) -> dict[str, InitError]:
        """Run new code: for each function named, ``changes[name](spec)`` is its new spec (a new
        task root, a new layer). Each starts one sandbox first; if every one starts, all swap
        at once and the next invocations run the new code; if any fails its init, none swaps
        (the last good build keeps serving) and the errors are returned by function."""
        pools = {name: self.pools[name] for name in changes}
        specs = {name: changes[name](pool.spec) for name, pool in pools.items()}

        def start(name: str) -> tuple[str, Sandbox | InitError]:
            try:
                return name, pools[name].start_sandbox(specs[name])
            except InitError as failed:
                return name, failed

        with ThreadPoolExecutor(max_workers=4) as workers:
            started = dict(workers.map(start, pools))
        failures = {name: outcome for name, outcome in started.items() if isinstance(outcome, InitError)}
        if failures:
            for outcome in started.values():
                if isinstance(outcome, Sandbox):
                    outcome.kill()
            return failures
        for name, outcome in started.items():
            assert isinstance(outcome, Sandbox)
            pools[name].swap(specs[name], outcome)
        return {}

    def set_function_environments(self, overrides: Mapping[str, Mapping[str, str]]) -> None:
        """Per-function local overrides for the functions of the next ``reload`` (new ones too)."""
        for name, variables in overrides.items():
            self._env_vars.setdefault(name, {}).update(variables)

    def reload(self, template_path: Path) -> None:
        """Run another build of the template (its functions, environments and registry as
        built), on the same ports: new pools, warmed; the old ones retire as their work ends."""
        template = SamTemplate.load(template_path, parameter_overrides=self._overrides)
        template.function_urls = self.template.function_urls  # the same servers, the same URLs
        pools = self._pools(template)
        with ThreadPoolExecutor(max_workers=4) as workers:
            list(workers.map(lambda p: p.warm(), pools.values()))
        old, self.template, self.pools = self.pools, template, pools
        for pool in old.values():
            pool.close()

    def _environment(self, spec: FunctionSpec, variables: Mapping[str, str]) -> dict[str, str]:
        """Lambda's own variables, the function's, then the local overrides (like sam local --env-vars)."""
        overrides = {**self._env_vars.get("Parameters", {}), **self._env_vars.get(spec.name, {})}
        # Functions that invoke functions (the issuer) reach this emulator, as in AWS they reach Lambda.
        own = {"AWS_ENDPOINT_URL_LAMBDA": self.endpoint_url}
        return {**lambda_environment(spec), **own, **variables, **overrides}

    def update_environment(self, name: str, variables: Mapping[str, str]) -> dict[str, Any]:
        """As UpdateFunctionConfiguration: the function's own variables (local overrides still win)."""
        pool = self.pools[name]
        pool.reconfigure(self._environment(pool.spec, variables), variables)
        return pool.configuration()

    def override_environment(self, name: str, **overrides: str | None) -> None:
        """Local overrides for one function, as a per-function entry of ``sam local --env-vars``
        (they win over the template and UpdateFunctionConfiguration; None drops one); new
        sandboxes get them."""
        own = self._env_vars.setdefault(name, {})
        for variable, value in overrides.items():
            if value is None:
                own.pop(variable, None)
            else:
                own[variable] = value
        pool = self.pools[name]
        pool.reconfigure(self._environment(pool.spec, pool.variables), pool.variables)

    def warm(self, *names: str, count: int = 1) -> None:
        """Start ``count`` sandboxes per function ahead of traffic (like provisioned concurrency)."""
        jobs = [self.pools[n] for n in (names or tuple(self.pools)) for _ in range(count)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda p: p.warm(), jobs))

    def stop(self) -> None:
        """Stop serving and end every sandbox, all at once (make dev stops in well under 2 s)."""
        servers = [server for server in (self._invoke_server, *self._url_servers) if server is not None]
        with ThreadPoolExecutor(max_workers=8) as workers:
            list(workers.map(lambda stop: stop(), [s.stop for s in servers] + [p.close for p in self.pools.values()]))

    def __enter__(self) -> LambdaEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def runtime_clients(self) -> set[str]:
        """Which runtime interface client the sandboxes run (awslambdaric, or the built-in one)."""
        return {pool.client.name for pool in self.pools.values()}

    @property
    def endpoint_url(self) -> str:
        assert self._invoke_server is not None, "start the emulator first"
        return self._invoke_server.base_url

    # --- invoking --------------------------------------------------------------------------------

    def invoke(self, name: str, payload: Any) -> InvokeResult:
        pool = self.pools.get(name)
        if pool is None:
            raise KeyError(name)
        result = pool.invoke(payload)
        if self._observer is not None:
            self._observer(name, result)
        return result
