"""Embedded AWS for local mode: moto's server on 127.0.0.1 (a process per stack) as SSM,
seeded from ``local/settings.json``, with signing keys generated on first start, and as DynamoDB,
with the template's tables (the claims hooks' used signatures).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from claimflow.environment import SsmPaths

__all__ = ["EmbeddedSsm", "EmbeddedSsmError", "SettingsError", "create_tables", "load_settings", "seed_parameters"]

_PROCESS = Path(__file__).with_name("_moto_process.py")


class EmbeddedSsmError(Exception):
    """The embedded SSM could not start (its port is taken, moto is missing)."""


class EmbeddedSsm:
    """moto's server on 127.0.0.1 in a process of its own: every AWS call a local stack makes
    goes to it (SSM, KMS, ...). One process per stack, so stacks never share or reset each
    other's state (moto keeps its backends in process globals)."""

    def __init__(self, *, port: int = 0) -> None:
        self._port = port
        self._process: subprocess.Popen[str] | None = None
        self._bound: int | None = None

    def launch(self) -> EmbeddedSsm:
        """Start the server process without waiting for it (it imports moto meanwhile: about a
        second, which a stack spends building); ``start`` waits."""
        if self._process is None:
            self._process = subprocess.Popen(
                [sys.executable, str(_PROCESS), str(self._port)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                start_new_session=True,  # a Ctrl-C in the terminal is for make dev, which stops it
            )
        return self

    def start(self, *, timeout: float = 60.0) -> EmbeddedSsm:
        """Launch (unless launched) and wait until the server answers."""
        process = self.launch()._process
        assert process is not None and process.stdout is not None
        if self._bound is None:
            read: list[str] = []  # a thread, not select(): pipes cannot be selected on Windows
            reader = threading.Thread(target=lambda: read.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
            reader.start()
            reader.join(timeout)
            line = read[0] if read else ""
            if not line.strip().isdigit():
                if process.poll() is None:
                    process.kill()
                detail = (process.stderr.read() if process.stderr else "").strip().splitlines()
                self.stop()
                raise EmbeddedSsmError(
                    f"the embedded SSM (moto) did not start on 127.0.0.1:{self._port or 'a free port'}"
                    + (f": {detail[0]}" if detail else " in time")
                )
            self._bound = int(line)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            assert process.stdin is not None
            process.stdin.close()  # it would exit by itself; nothing of its state needs saving
        process.terminate()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    @property
    def url(self) -> str:
        assert self._bound is not None, "start the embedded SSM first"
        return f"http://127.0.0.1:{self._bound}"

    def client(self, service: str = "ssm", *, max_attempts: int = 3) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": max_attempts, "mode": "standard"}),
        )


#: Keys local/settings.json no longer takes, and where what they said lives now.
_MOVED = {
    "signing_algorithm": 'the template\'s SigningAlgorithm decides, as in a deployed stack: set "parameters": '
    '{"SigningAlgorithm": ...} in local/settings.json to run another locally',
    "signing_key_store": 'the template\'s SigningKeyStore decides: set "parameters": {"SigningKeyStore": "kms"}',
    "third_party": "the stand-in's answers are routes in local/third_party.yaml",
}


class SettingsError(Exception):
    """local/settings.json says something a local stack cannot run with; the message names the key."""


def load_settings(path: Path) -> dict[str, Any]:
    try:
        settings: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise SettingsError(f"no local settings at {path}: a claimflow project has local/settings.json") from None
    except ValueError as error:
        raise SettingsError(f"{path} is not JSON: {error}") from None
    for key, where in _MOVED.items():
        if key in settings:
            raise SettingsError(f"{path.name}: '{key}' is gone: {where}")
    hosts = settings.get("allowed_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h and "/" not in h for h in hosts):
        raise SettingsError(f'{path.name}: "allowed_hosts" is a list of host names, e.g. ["dev-api.example.internal"]')
    if not isinstance(settings.get("parameters", {}), dict):
        raise SettingsError(f'{path.name}: "parameters" maps template parameters to values, e.g. {{"SigningAlgorithm": "ES256"}}')
    return settings


def seed_parameters(ssm_client: Any, settings: Mapping[str, Any]) -> SsmPaths:
    """Write the settings' env variables where the env binding reads them."""
    paths = SsmPaths(stage=settings["stage"])
    env = settings.get("env", {})
    entries: list[tuple[str, Mapping[str, Any]]] = [(f"{paths.shared_env}/{k}", v) for k, v in env.get("shared", {}).items()]
    for workflow_id, variables in env.get("workflows", {}).items():
        entries += [(f"{paths.workflow_env(workflow_id)}/{k}", v) for k, v in variables.items()]
    for hook, spec in settings.get("hooks", {}).items():  # each claims hook's shared secret, or its JSON configuration
        value = spec["secret"] if "secret" in spec else json.dumps(spec["config"], separators=(",", ":"))
        entries.append((paths.hook_secret(hook), {"value": value, "secret": True}))
    for name, spec in entries:
        ssm_client.put_parameter(
            Name=name, Value=str(spec["value"]), Type="SecureString" if spec.get("secret") else "String", Overwrite=True
        )
    return paths


def create_tables(dynamodb_client: Any, template: Path) -> list[str]:
    """Create each DynamoDB table ``template`` declares, named as the emulator resolves its
    ``!Ref`` (its logical id), with its keys and TTL; their names."""
    from claimflow_local.template import SamTemplate

    created = []
    for logical_id, resource in SamTemplate.load(template).resources.items():
        if resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        spec = resource["Properties"]
        dynamodb_client.create_table(
            TableName=logical_id,
            AttributeDefinitions=spec["AttributeDefinitions"],
            KeySchema=spec["KeySchema"],
            BillingMode="PAY_PER_REQUEST",
        )
        if ttl := spec.get("TimeToLiveSpecification"):
            dynamodb_client.update_time_to_live(TableName=logical_id, TimeToLiveSpecification=ttl)
        created.append(logical_id)
    return created
