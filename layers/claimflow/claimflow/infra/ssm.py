"""The SSM Parameter Store adapter: the one place the env binding and key store touch AWS.

boto3 is imported when the first client is built, so a workflow that binds neither
``kinde.env`` nor ``kinde.secureFetch`` never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from claimflow.config import Env, env_str
from claimflow.errors import ParameterStoreError
from claimflow.infra.aws import aws_client
from claimflow.infra.parameters import Parameter, ParameterStore

if TYPE_CHECKING:
    from botocore.client import BaseClient

__all__ = ["SsmParameterStore"]


class SsmParameterStore(ParameterStore):
    """Parameters from AWS SSM; ``SecureString`` values are decrypted and marked secret."""

    def __init__(self, *, client: BaseClient | None = None, **options: Any) -> None:
        super().__init__(**options)
        self._client = client

    @property
    def client(self) -> BaseClient:
        if self._client is None:
            # Fail fast: a login waits on this call; the cache serves stale values if SSM stays unhappy.
            endpoint = env_str(Env.SSM_ENDPOINT, "")  # sam local and make dev point SSM at moto
            self._client = aws_client("ssm", connect_timeout=1, read_timeout=2, max_attempts=2, endpoint_url=endpoint)
        return self._client

    def _get_by_path(self, path: str) -> dict[str, Parameter]:
        prefix = path.rstrip("/") + "/"
        found: dict[str, Parameter] = {}
        try:
            pages = self.client.get_paginator("get_parameters_by_path").paginate(
                Path=prefix.rstrip("/"), Recursive=False, WithDecryption=True
            )
            for page in pages:
                for item in page["Parameters"]:
                    key = item["Name"][len(prefix) :] if item["Name"].startswith(prefix) else item["Name"].rsplit("/", 1)[-1]
                    found[key] = Parameter(item["Name"], item["Value"], item["Type"] == "SecureString")
        except Exception as error:  # botocore raises many types; all mean "SSM did not answer"
            raise ParameterStoreError(f"SSM GetParametersByPath {prefix} failed: {_describe(error)}") from error
        return found

    def _get(self, name: str) -> Parameter | None:
        try:
            item = self.client.get_parameter(Name=name, WithDecryption=True)["Parameter"]
        except Exception as error:
            if _code(error) == "ParameterNotFound":
                return None
            raise ParameterStoreError(f"SSM GetParameter {name} failed: {_describe(error)}") from error
        return Parameter(item["Name"], item["Value"], item["Type"] == "SecureString")

    def put(self, name: str, value: str, *, secret: bool = False, description: str = "") -> None:
        """Write (overwrite) one parameter; used by the key CLI and local seeding."""
        try:
            self.client.put_parameter(
                Name=name,
                Value=value,
                Type="SecureString" if secret else "String",
                Overwrite=True,
                Tier="Intelligent-Tiering",
                Description=description,
            )
        except Exception as error:
            raise ParameterStoreError(f"SSM PutParameter {name} failed: {_describe(error)}") from error
        self.clear_cache()


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _describe(error: Exception) -> str:
    # Never the parameter's value: botocore errors carry codes and messages, not payloads.
    return f"{type(error).__name__}: {_code(error) or error}"
