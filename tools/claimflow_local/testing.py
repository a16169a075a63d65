"""A testing kit for workflow authors: ``pytest_plugins = ["claimflow_local.testing"]``.

Runs a workflow module's real ``lambda_handler`` (the production code path: real bindings,
boto3 against moto's server as SSM, real HTTP to a loopback stub of the third party) against
an event, with the environment variables and third-party answers the test gives, and returns
the reply to assert on. No AWS account, no network. Needs ``moto[server]`` in the test venv.

    def test_subscribers_get_the_flag(workflow_kit):
        workflow_kit.env(API_KEY=workflow_kit.secret("k-123"))
        workflow_kit.http.answer("GET", "/api/user/kp_1", json={"lifetime_subscriber": True})
        result = workflow_kit.run("functions/my_workflow/app.py", user_id="kp_1")
        assert result.claims("access_token") == {"lifetime_subscriber": True}
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import itertools
import json
import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from claimflow.environment import Env, SsmPaths
from claimflow.handler import clear_caches, create_handler, default_services
from claimflow.infra.http_client import Resolver
from claimflow.settings import WorkflowSettings
from claimflow.tokens import tokens_for
from claimflow.triggers import WorkflowTrigger
from claimflow.wire.contracts import WORKFLOW_INVOCATION
from claimflow.wire.seed_event import seed_event
from claimflow_local.loopback import LoopbackHandler, LoopbackServer

__all__ = ["RecordedRequest", "StubServer", "WorkflowKit", "WorkflowResult", "Secret", "workflow_kit"]

_STAGE = "test"
_modules = itertools.count()


@dataclass(frozen=True)
class Secret:
    """A value to store as a SecureString."""

    value: str = field(repr=False)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


class StubServer:
    """The third party, on loopback: answers what the test set, records what it was sent."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], tuple[int, bytes, dict[str, str]]] = {}
        self.requests: list[RecordedRequest] = []
        self._server = LoopbackServer(self._handler()).start("claimflow-kit-stub")

    @property
    def url(self) -> str:
        return self._server.base_url

    def answer(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        json: Any = None,
        text: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        import json as json_module

        body = text.encode() if text is not None else json_module.dumps(json).encode()
        kind = "text/plain" if text is not None else "application/json"
        self.answers[(method.upper(), path)] = (status, body, {"Content-Type": kind, **(headers or {})})

    def stop(self) -> None:
        self._server.stop()

    def _handler(self) -> type[LoopbackHandler]:
        stub = self

        class Handler(LoopbackHandler):
            def _serve(self) -> None:
                body = self.body_or_reply()
                if body is None:
                    return
                stub.requests.append(RecordedRequest(self.command, self.path, dict(self.headers.items()), body))
                status, payload, headers = stub.answers.get((self.command, self.path), (404, b'{"error":"no stub"}', {}))
                self.send(status, payload, headers)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        return Handler


@dataclass(frozen=True)
class WorkflowResult:
    """The workflow's reply (contract v1), with readers for what tests assert."""

    reply: Mapping[str, Any]

    @property
    def outcome(self) -> str:
        return str(self.reply["outcome"])

    @property
    def reason(self) -> str | None:
        return self.reply.get("reason")

    @property
    def error(self) -> Mapping[str, str] | None:
        return self.reply.get("error")

    @property
    def fetch_errors(self) -> list[Mapping[str, Any]]:
        """The fetches that answered an error status (``{"url", "status"}``), as the issuer reports them."""
        return list(self.reply.get("fetch_errors", []))

    def claims(self, token: str = "access_token") -> dict[str, Any]:  # noqa: S107 - a token's name, not a secret
        """The claims the workflow set on ``token`` (empty when it failed or denied)."""
        return dict(self.reply.get("patches", {}).get(token, {}).get("set", {}))


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"claimflow_workflow_{next(_modules)}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no workflow module at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class WorkflowKit:
    def __init__(self, ssm_url: str, http: StubServer, monkeypatch: pytest.MonkeyPatch, *, base_url_variable: str) -> None:
        import boto3

        self.http = http
        self.lookups: list[str] = []  # host names fetch resolved, in order (runs with local_mode=False or resolve=)
        self._ssm = boto3.client(
            "ssm", endpoint_url=ssm_url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        self.paths = SsmPaths(stage=_STAGE)
        for name, value in {
            "AWS_ENDPOINT_URL_SSM": ssm_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            Env.STAGE: _STAGE,
            Env.LOCAL_MODE: "1",
            base_url_variable: http.url,
        }.items():
            monkeypatch.setenv(name, value)

    @staticmethod
    def secret(value: str) -> Secret:
        return Secret(value)

    def env(self, *, workflow: str | None = None, **variables: str | Secret) -> None:
        """Set environment variables (stage-wide, or one workflow's own), as SSM parameters."""
        path = self.paths.workflow_env(workflow) if workflow else self.paths.shared_env
        for name, value in variables.items():
            secret = isinstance(value, Secret)
            self._ssm.put_parameter(
                Name=f"{path}/{name}",
                Value=value.value if isinstance(value, Secret) else value,
                Type="SecureString" if secret else "String",
                Overwrite=True,
            )
        clear_caches()

    def run(
        self,
        module: str | Path,
        *,
        event: str | Path | Mapping[str, Any] | None = None,
        user_id: str = "kp_test_user",
        claims: Mapping[str, Mapping[str, Any]] | None = None,
        local_mode: bool = True,
        resolve: Mapping[str, str | Sequence[str]] | Resolver | None = None,
    ) -> WorkflowResult:
        """Run the module's ``lambda_handler`` on ``event`` (a seed-shaped event, a file holding
        one or a whole invocation request) or on a minimal event for its trigger.

        ``local_mode=False`` runs fetch as deployed: https only, the ``url`` binding's
        ``allowedHosts`` and the address guard in force (the loopback stub is then out of reach,
        so a test there shows what is refused). ``resolve`` decides what names resolve to (a
        mapping of host to addresses, or a ``socket.getaddrinfo``-shaped function); the guard
        checks those answers, and ``lookups`` records every name looked up.
        """
        workflow = _load(Path(module))
        handler = workflow.lambda_handler
        settings: WorkflowSettings = handler.workflow_settings
        request = self._request(settings, event, user_id, claims or {})
        clear_caches()
        if local_mode and resolve is None:
            reply = handler(request, None)
        else:
            # The module's own workflow function under the same handler code, on services set as asked.
            services = dataclasses.replace(default_services(), local_mode=local_mode, resolve=self._resolver(resolve))
            reply = create_handler(settings, handler.__wrapped__, services=services)(request, None)
        return WorkflowResult(json.loads(json.dumps(reply)))

    def _resolver(self, resolve: Mapping[str, str | Sequence[str]] | Resolver | None) -> Resolver:
        answer: Resolver = socket.getaddrinfo if resolve is None else resolve if callable(resolve) else _table(resolve)

        def recorded(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
            self.lookups.append(host)
            return answer(host, port, *args, **kwargs)

        return recorded

    def _request(
        self,
        settings: WorkflowSettings,
        event: str | Path | Mapping[str, Any] | None,
        user_id: str,
        claims: Mapping[str, Mapping[str, Any]],
    ) -> dict[str, Any]:
        trigger = settings.workflow_trigger
        document = json.loads(Path(event).read_text()) if isinstance(event, (str, Path)) else copy.deepcopy(event)
        if document and document.get("contract") == WORKFLOW_INVOCATION:
            return {**document, "workflow_id": settings.id}
        if document is None:
            document = _minimal_event(trigger, user_id)
        tokens = {t.value: dict(claims.get(t.value, {})) for t in tokens_for(trigger)}
        return {
            "contract": WORKFLOW_INVOCATION,
            "workflow_id": settings.id,
            "trigger": trigger.value,
            "event": document,
            "tokens": tokens,
            "deadline_ms": 5000,
        }


def _table(addresses: Mapping[str, str | Sequence[str]]) -> Resolver:
    """A ``getaddrinfo`` answering from ``{host: address or [addresses]}``; other names do not resolve."""

    def resolve(host: str, port: int, *_: Any, **__: Any) -> list[Any]:
        found = addresses.get(host)
        if found is None:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} is not in the test's resolve table")
        listed = [found] if isinstance(found, str) else list(found)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, port))
            for a in listed
        ]

    return resolve


def _minimal_event(trigger: WorkflowTrigger, user_id: str) -> dict[str, Any]:
    user = trigger is WorkflowTrigger.UserTokenGeneration
    return seed_event(
        trigger,
        client_id="test_client",
        audience=["https://api.test"],
        domain="https://issuer.test",
        subject=user_id if user else None,
        ip="203.0.113.1",
    )


@pytest.fixture(scope="session")
def _claimflow_ssm() -> Iterator[str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def workflow_kit(_claimflow_ssm: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkflowKit]:
    """A fresh kit per test: empty SSM, an empty third-party stub, API_BASE_URL pointing at it."""
    import urllib.request

    reset = urllib.request.Request(f"{_claimflow_ssm}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=5).read()
    stub = StubServer()
    kit = WorkflowKit(
        _claimflow_ssm, stub, monkeypatch, base_url_variable=os.environ.get("CLAIMFLOW_TEST_BASE_URL_VAR", "API_BASE_URL")
    )
    yield kit
    stub.stop()
    clear_caches()
