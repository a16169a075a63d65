"""``claimflow env set|get|list|unset``: the seed's environment-variables page, as SSM
parameters at the paths the env binding reads. Secrets are SecureStrings and are never
echoed back.

``--local`` is the local stack: a value goes to the running ``make dev``'s SSM (if one runs)
and to the git-ignored local store every local stack starts with (``local/state/env.json``),
so it lasts when make dev restarts and reaches ``make demo``, ``preview`` and the testing kit.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any, TextIO

from claimflow.environment import SsmPaths
from claimflow.infra.secrets import REDACTED
from claimflow_local.cli.errors import CommandError, reaching_aws, ssm_client
from claimflow_local.stack.local_state import ENV_STORE, LocalEnvStore, merged_env, running_dev
from claimflow_local.stack.ssm import SettingsError, load_settings
from claimflow_local.template import SamTemplate, TemplateError

__all__ = ["EnvCommandError", "EnvironmentManager", "LocalEnvironment", "check_workflow", "read_value"]

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

    @staticmethod
    def check_value(value: str) -> None:
        if value == "":
            raise EnvCommandError("the value is empty, and SSM keeps no empty parameter: give a value, or `env unset NAME`")

    def set(self, name: str, value: str, *, secret: bool, workflow: str | None) -> str:
        self.check_name(name)
        self.check_value(value)
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


def check_workflow(root: Path, workflow: str | None) -> None:
    """Refuse a ``--workflow`` id no workflow of the project registers (a value nothing reads)."""
    if workflow is None:
        return
    try:
        ids = sorted({entry.id for entry in SamTemplate.load(root / "template.yaml").registry()})
    except (OSError, ValueError, TemplateError) as error:
        raise EnvCommandError(f"cannot read the workflows of {root / 'template.yaml'}: {error}") from None
    if workflow not in ids:
        raise EnvCommandError(
            f"--workflow {workflow}: no workflow registers that id, so nothing would read it; "
            f"the workflows are {', '.join(ids) or '(none)'}"
        )


class LocalEnvironment:
    """``env ... --local``: the running make dev's SSM, when one runs, and the local store."""

    def __init__(self, root: Path) -> None:
        try:
            self.settings = load_settings(root / "local" / "settings.json")
        except SettingsError as error:
            raise EnvCommandError(str(error)) from None
        self.stage = str(self.settings["stage"])
        self.store = LocalEnvStore(root)
        self.dev = running_dev(root, service="ssm")
        self.manager = (
            EnvironmentManager(ssm_client(local=True, endpoint=self.dev.urls["ssm"]), stage=self.stage) if self.dev else None
        )
        self._where = f"make dev's SSM at {self.dev.urls['ssm']}" if self.dev else ""

    def check_stage(self, stage: str | None) -> None:
        if stage is not None and stage != self.stage:
            raise EnvCommandError(f"--local is stage '{self.stage}' (local/settings.json): drop --stage, or make it {self.stage}")

    def _told(self, did: str) -> str:
        if self.dev:
            return f"{did} in make dev's SSM and in {ENV_STORE} (every local stack starts with it)"
        return f"{did} in {ENV_STORE}: make dev is not running; every local stack (dev, demo, preview, the kit) starts with it"

    def set(self, name: str, value: str, *, secret: bool, workflow: str | None) -> str:
        EnvironmentManager.check_name(name)
        EnvironmentManager.check_value(value)
        if self.manager is not None:  # first: a value SSM refuses is never stored
            with reaching_aws(local=True, where=self._where):
                done = self.manager.set(name, value, secret=secret, workflow=workflow)
        else:
            done = f"set {EnvironmentManager(None, stage=self.stage).path(workflow)}/{name} ({'secret' if secret else 'plain'})"
        self.store.set(name, value, secret=secret, workflow=workflow)
        return self._told(done)

    def unset(self, name: str, *, workflow: str | None) -> str:
        EnvironmentManager.check_name(name)
        path = EnvironmentManager(None, stage=self.stage).path(workflow)
        if name not in self._seed(workflow):
            raise EnvCommandError(f"{name} is not set at {path} in the local stack")
        if self.manager is not None:
            # stored, but not in this make dev (it started before): unset in the store all the same
            with reaching_aws(local=True, where=self._where), contextlib.suppress(EnvCommandError):
                self.manager.unset(name, workflow=workflow)
        self.store.unset(name, workflow=workflow)
        return self._told(f"unset {path}/{name}")

    def _seed(self, workflow: str | None) -> dict[str, Any]:
        seed = merged_env(self.settings.get("env", {}), self.store.load())
        section: dict[str, Any] = seed["shared"] if workflow is None else seed["workflows"].get(workflow, {})
        return section

    def get(self, name: str, *, workflow: str | None) -> str:
        if self.manager is not None:
            with reaching_aws(local=True, where=self._where):
                return self.manager.get(name, workflow=workflow)
        EnvironmentManager.check_name(name)
        variable = self._seed(workflow).get(name)
        if variable is None:
            raise EnvCommandError(f"{name} is not set in the local stack's seed (local/settings.json, {ENV_STORE})")
        secret = bool(variable.get("secret"))
        return f"{name}={REDACTED if secret else variable['value']} ({'secret' if secret else 'plain'})"

    def list(self, *, workflow: str | None) -> list[str]:
        if self.manager is not None:
            with reaching_aws(local=True, where=self._where):
                return self.manager.list(workflow=workflow)
        rows = [
            (name, "secret" if v.get("secret") else "plain", REDACTED if v.get("secret") else str(v["value"]))
            for name, v in self._seed(workflow).items()
        ]
        lines = [f"{name:32} {kind:6} {shown}" for name, kind, shown in sorted(rows)]
        return [*lines, f"(make dev is not running: what local stacks start with, from local/settings.json and {ENV_STORE})"]
