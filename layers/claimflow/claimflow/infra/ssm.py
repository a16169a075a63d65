"""The SSM Parameter Store adapter: the one place the env binding and key store touch AWS.

Its client is ``claimflow.infra.ssm_api.SsmApi`` (signed HTTP, no boto3), made on first use,
so a workflow that binds neither ``kinde.env`` nor ``kinde.secureFetch`` never pays for it;
tools and tests may pass a boto3 SSM client instead, which answers alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from claimflow.environment import Env, env_str
from claimflow.errors import ParameterStoreError
from claimflow.infra.cache_metrics import record_serving_stale
from claimflow.infra.parameters import Parameter, ParameterStore

if TYPE_CHECKING:
    from claimflow.infra.ssm_api import SsmApi

__all__ = ["SsmParameterStore"]


class SsmParameterStore(ParameterStore):
    """Parameters from AWS SSM; ``SecureString`` values are decrypted and marked secret. Each
    value served stale while SSM fails counts one ``ServingStale`` metric (unless ``on_stale``)."""

    def __init__(self, *, client: SsmApi | Any | None = None, **options: Any) -> None:
        options.setdefault("on_stale", record_serving_stale)
        super().__init__(**options)
        self._client = client

    @property
    def client(self) -> SsmApi | Any:
        if self._client is None:
            from claimflow.infra.ssm_api import SsmApi

            # Fail fast: a login waits on this call; the cache serves stale values if SSM stays unhappy.
            endpoint = env_str(Env.SSM_ENDPOINT, "")  # sam local and make dev point SSM at moto
            self._client = SsmApi(endpoint=endpoint or None, read_timeout=2)
        return self._client

    def _get_by_path(self, path: str) -> dict[str, Parameter]:
        prefix = path.rstrip("/") + "/"
        found: dict[str, Parameter] = {}
        try:
            arguments: dict[str, Any] = {"Path": prefix.rstrip("/"), "Recursive": False, "WithDecryption": True}
            while True:
                page = self.client.get_parameters_by_path(**arguments)
                for item in page["Parameters"]:
                    key = item["Name"][len(prefix) :] if item["Name"].startswith(prefix) else item["Name"].rsplit("/", 1)[-1]
                    found[key] = Parameter(item["Name"], item["Value"], item["Type"] == "SecureString")
                if not page.get("NextToken"):
                    break
                arguments["NextToken"] = page["NextToken"]
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

    def put(self, name: str, value: str, *, secret: bool = False, description: str = "", key_id: str | None = None) -> None:
        """Write (overwrite) one parameter; used by key rotation, the key CLI and local seeding."""
        arguments: dict[str, Any] = {
            "Name": name,
            "Value": value,
            "Type": "SecureString" if secret else "String",
            "Overwrite": True,
            "Tier": "Intelligent-Tiering",
            "Description": description,
        }
        if secret and key_id:
            arguments["KeyId"] = key_id
        try:
            self.client.put_parameter(**arguments)
        except Exception as error:
            raise ParameterStoreError(f"SSM PutParameter {name} failed: {_describe(error)}") from error
        self.clear_cache()


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _describe(error: Exception) -> str:
    # Never the parameter's value: botocore errors carry codes and messages, not payloads.
    return f"{type(error).__name__}: {_code(error) or error}"
