"""``claimflow env set|get|list|unset``: the seed's environment-variables page, as SSM
parameters at the paths the env binding reads. Secrets are SecureStrings and are never
echoed back."""

from __future__ import annotations

import re
from typing import Any

from claimflow.config import SsmPaths
from claimflow.infra.secrets import REDACTED
from claimflow_local.stack.ports import local_url

__all__ = ["EnvCommandError", "EnvironmentManager", "ssm_client"]

# The binding reads the parameters directly under a path (non-recursive), so a name must be
# one path segment; keep to names a program would use for a variable.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


class EnvCommandError(Exception):
    pass


class EnvironmentManager:
    def __init__(self, client: Any, *, stage: str) -> None:
        self.client = client
        self.paths = SsmPaths(stage=stage)

    def path(self, workflow: str | None) -> str:
        return self.paths.workflow_env(workflow) if workflow else self.paths.shared_env

    @staticmethod
    def check_name(name: str) -> None:
        if not _NAME.match(name):
            raise EnvCommandError(
                f"{name!r} is not a name the env binding can read: use letters, digits and _ "
                "(starting with a letter or _), at most 128 characters"
            )

    def set(self, name: str, value: str, *, secret: bool, workflow: str | None) -> str:
        self.check_name(name)
        full = f"{self.path(workflow)}/{name}"
        self.client.put_parameter(Name=full, Value=value, Type="SecureString" if secret else "String", Overwrite=True)
        return f"set {full} ({'secret' if secret else 'plain'})"

    def _describe(self, item: dict[str, Any]) -> tuple[str, str, str]:
        secret = item["Type"] == "SecureString"
        return item["Name"].rsplit("/", 1)[-1], "secret" if secret else "plain", REDACTED if secret else item["Value"]

    def get(self, name: str, *, workflow: str | None) -> str:
        self.check_name(name)
        full = f"{self.path(workflow)}/{name}"
        try:
            item = self.client.get_parameter(Name=full, WithDecryption=False)["Parameter"]
        except self.client.exceptions.ParameterNotFound:
            raise EnvCommandError(f"{name} is not set at {self.path(workflow)}") from None
        _, kind, shown = self._describe(item)
        return f"{name}={shown} ({kind})"

    def list(self, *, workflow: str | None) -> list[str]:
        rows = []
        for page in self.client.get_paginator("get_parameters_by_path").paginate(
            Path=self.path(workflow), Recursive=False, WithDecryption=False
        ):
            rows += [self._describe(item) for item in page["Parameters"]]
        return [f"{name:32} {kind:6} {shown}" for name, kind, shown in sorted(rows)]

    def unset(self, name: str, *, workflow: str | None) -> str:
        self.check_name(name)
        full = f"{self.path(workflow)}/{name}"
        try:
            self.client.delete_parameter(Name=full)
        except self.client.exceptions.ParameterNotFound:
            raise EnvCommandError(f"{name} is not set at {self.path(workflow)}") from None
        return f"unset {full}"


def ssm_client(*, local: bool) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, retries={"max_attempts": 2, "mode": "standard"})
    if not local:
        return boto3.client("ssm", config=config)
    return boto3.client(
        "ssm",
        endpoint_url=local_url("ssm"),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )
