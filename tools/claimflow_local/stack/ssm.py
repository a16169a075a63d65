"""Embedded AWS for local mode: moto's server on 127.0.0.1 as SSM, seeded from
``local/settings.json``, with signing keys generated on first start, and as DynamoDB, with the
template's tables (the claims hooks' used signatures).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from claimflow.environment import SsmPaths

__all__ = ["EmbeddedSsm", "create_tables", "load_settings", "seed_parameters"]


class EmbeddedSsm:
    """moto's threaded server; every AWS call a local run makes goes to it."""

    def __init__(self, *, port: int = 0) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log on the demo's terminal
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    def start(self) -> EmbeddedSsm:
        """Start empty: moto keeps its state per process, so a second server would see the first's."""
        import urllib.request

        self._server.start()
        reset = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=10).read()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def url(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

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


def load_settings(path: Path) -> dict[str, Any]:
    settings: dict[str, Any] = json.loads(path.read_text())
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
