"""``claimflow env set|get|list|unset``: the seed's environment-variables page, as SSM
parameters at the paths the env binding reads. Secrets are SecureStrings and are never
echoed back."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TextIO

from claimflow.environment import SsmPaths
from claimflow.infra.secrets import REDACTED
from claimflow_local.cli.errors import CommandError

__all__ = ["EnvCommandError", "EnvironmentManager", "read_value"]

# The binding reads the parameters directly under a path (non-recursive), so a name must be
# one path segment; keep to names a program would use for a variable.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


class EnvCommandError(CommandError):
    """An env command was given a name or value it cannot store."""


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


def read_value(value: str | None, *, from_file: Path | None, stdin: TextIO, newline: str | None) -> str:
    """The value to store: the argument, standard input (``-``) or a file's contents.

    A value read from stdin or a file that ends with a newline (``echo`` and editors add one)
    is refused unless ``newline`` says ``strip`` or ``keep``: a stray newline in an API key
    breaks the header it is sent in, while a PEM key may mean it.
    """
    if from_file is not None and value is not None:
        raise EnvCommandError("give the value once: as VALUE, as - (standard input) or with --from-file")
    if from_file is not None:
        try:
            text, source = from_file.read_text(), str(from_file)
        except OSError as error:
            raise EnvCommandError(f"cannot read --from-file {from_file}: {error.strerror}") from None
    elif value == "-":
        text, source = stdin.read(), "standard input"
    elif value is None:
        raise EnvCommandError("env set needs a VALUE, - to read it from standard input, or --from-file PATH")
    else:
        return value
    if text.endswith("\n") and newline != "keep":
        if newline != "strip":
            raise EnvCommandError(
                f"the value from {source} ends with a newline; pass --strip-newline to drop it "
                "(what you want for an API key), or --keep-newline to store it (e.g. a PEM key)"
            )
        text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise EnvCommandError(f"the value from {source} is empty")
    return text
