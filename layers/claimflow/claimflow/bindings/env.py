"""The ``kinde.env`` binding: the seed's ``getEnvironmentVariable``, over SSM.

A workflow's own path wins over the stage-wide path. Every secret value read is remembered
by the container's ``SecretRegistry`` so logs and error text can redact it.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

from claimflow.binding_table import needed_for
from claimflow.environment import SsmPaths
from claimflow.infra.parameters import ParameterStore
from claimflow.infra.secrets import REDACTED, SecretRegistry
from claimflow.runtime import current_invocation

__all__ = ["EnvironmentVariable", "EnvironmentVariables", "get_environment_variable"]


@dataclass(frozen=True)
class EnvironmentVariable:
    """The seed's ``{value, isSecret}``: ``variable.value``, ``variable["value"]``,
    ``variable["isSecret"]`` and ``variable.isSecret`` all read as the seed's do. Neither repr
    nor str shows a secret value."""

    value: str = field(repr=False)
    is_secret: bool = False

    @property
    def isSecret(self) -> bool:
        return self.is_secret

    def __getitem__(self, key: str) -> str | bool:
        if key == "value":
            return self.value
        if key in ("isSecret", "is_secret"):
            return self.is_secret
        raise KeyError(f"an environment variable has 'value' and 'isSecret', not {key!r}")

    def __await__(self) -> Generator[None, None, EnvironmentVariable]:
        """``await getEnvironmentVariable(key)``, as TypeScript lets one write it: the variable, at once."""
        yield from ()
        return self

    def __repr__(self) -> str:
        return f"EnvironmentVariable(value={REDACTED if self.is_secret else repr(self.value)}, is_secret={self.is_secret})"

    __str__ = __repr__


class EnvironmentVariables:
    """Reads a workflow's variables: its own SSM path first, then the stage-wide one."""

    def __init__(self, store: ParameterStore, paths: SsmPaths, secrets: SecretRegistry) -> None:
        self._store = store
        self._paths = paths
        self._secrets = secrets

    def get(self, workflow_id: str, key: str, *, deadline: float | None = None) -> EnvironmentVariable | None:
        for path in (self._paths.workflow_env(workflow_id), self._paths.shared_env):
            parameter = self._store.get_by_path(path, deadline=deadline).get(key)
            if parameter is not None:
                if parameter.is_secret:
                    self._secrets.add(parameter.value)
                return EnvironmentVariable(parameter.value, parameter.is_secret)
        return None


def get_environment_variable(key: str) -> EnvironmentVariable | None:
    """The variable's value and whether it is secret, or None when not set (binding ``kinde.env``).

    Not asynchronous (nor is the seed's); a variable can still be awaited, as TypeScript allows.
    None cannot (Python awaits no None): test ``if variable`` before ``await variable``."""
    invocation = current_invocation()
    invocation.require(*needed_for("kinde.env"))
    services = invocation.services
    variables = EnvironmentVariables(services.parameters, services.paths, services.secrets)
    variable = variables.get(invocation.settings.id, key, deadline=invocation.deadline)
    invocation.capture.env_read(key, found=variable is not None, secret=bool(variable and variable.is_secret))  # names only
    return variable
