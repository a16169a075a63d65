"""What lasts between local stacks, in ``local/state/`` (git-ignored): the variables
``claimflow env set|unset --local`` wrote, which every local stack (``make dev``, ``make demo``,
``preview``, the testing kit) seeds after ``local/settings.json``; and the record of the running
``make dev`` (its pid and ports), which ``preview`` and ``env --local`` find it by.

The store is a JSON file readable by its owner only (it may hold secret values, as the local
SSM does); writes replace it whole (write, then rename), so a reader never sees half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "DEV_RECORD",
    "ENV_STORE",
    "LOCAL_STATE_VARIABLE",
    "RELOAD_FAILURE",
    "STATE_DIR",
    "DevRecord",
    "LocalEnvStore",
    "merged_env",
    "running_dev",
]

STATE_DIR = "local/state"
ENV_STORE = f"{STATE_DIR}/env.json"
DEV_RECORD = f"{STATE_DIR}/dev.json"
#: Written while make dev serves an older build than the code on disk (its last reload failed).
RELOAD_FAILURE = f"{STATE_DIR}/reload-failed.json"
#: ``ignore``: local stacks and the kit do not seed what ``env set --local`` stored (the project's own tests set it).
LOCAL_STATE_VARIABLE = "CLAIMFLOW_LOCAL_STATE"

#: One variable as settings.json and the store spell it; None in the store: unset (wins over settings.json).
Variable = Mapping[str, Any] | None


def _write_private(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(document, out, indent=2, sort_keys=True)
            out.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class LocalEnvStore:
    """``local/state/env.json``: ``{"shared": {NAME: {value, secret} | null}, "workflows": {id: {...}}}``."""

    def __init__(self, root: Path) -> None:
        self.path = root / ENV_STORE

    def load(self) -> dict[str, Any]:
        try:
            document = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"shared": {}, "workflows": {}}
        except ValueError as error:
            raise ValueError(f"{ENV_STORE} is not JSON ({error}); fix or delete it (env set --local wrote it)") from None
        return {"shared": dict(document.get("shared", {})), "workflows": dict(document.get("workflows", {}))}

    def _section(self, document: dict[str, Any], workflow: str | None) -> dict[str, Any]:
        if workflow is None:
            section: dict[str, Any] = document["shared"]
            return section
        return document["workflows"].setdefault(workflow, {})  # type: ignore[no-any-return]

    def set(self, name: str, value: str, *, secret: bool, workflow: str | None) -> None:
        document = self.load()
        self._section(document, workflow)[name] = {"value": value, "secret": secret}
        _write_private(self.path, document)

    def unset(self, name: str, *, workflow: str | None) -> None:
        """Record ``name`` as unset: it wins over local/settings.json too."""
        document = self.load()
        self._section(document, workflow)[name] = None
        _write_private(self.path, document)


def merged_env(settings_env: Mapping[str, Any], store: Mapping[str, Any]) -> dict[str, Any]:
    """The variables a local stack seeds: local/settings.json's, then the store's (an unset drops one)."""
    merged: dict[str, Any] = {"shared": dict(settings_env.get("shared", {})), "workflows": {}}
    for workflow, variables in settings_env.get("workflows", {}).items():
        merged["workflows"][workflow] = dict(variables)
    targets = [(merged["shared"], store.get("shared", {}))]
    targets += [(merged["workflows"].setdefault(w, {}), v) for w, v in store.get("workflows", {}).items()]
    for target, changes in targets:
        for name, variable in changes.items():
            if variable is None:
                target.pop(name, None)
            else:
                target[name] = variable
    return merged


@dataclass(frozen=True)
class DevRecord:
    """A running ``make dev``: its process and the URLs of its services."""

    pid: int
    urls: Mapping[str, str]
    stage: str

    def write(self, root: Path) -> None:
        _write_private(root / DEV_RECORD, {"pid": self.pid, "urls": dict(self.urls), "stage": self.stage})

    @staticmethod
    def remove(root: Path, *, pid: int) -> None:
        """Remove the record if it is ``pid``'s (another make dev may have written its own since)."""
        path = root / DEV_RECORD
        with contextlib.suppress(FileNotFoundError, ValueError):
            if json.loads(path.read_text()).get("pid") == pid:
                path.unlink()


def _alive(pid: int) -> bool:
    if sys.platform == "win32":  # os.kill(pid, 0) would end it there; the service's port decides
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_dev(root: Path, *, service: str = "lambda") -> DevRecord | None:
    """The ``make dev`` running for the project at ``root``, if one is: its record, its process
    alive, and ``service`` listening. A stale record (a make dev killed) reads as none."""
    try:
        document = json.loads((root / DEV_RECORD).read_text())
        record = DevRecord(int(document["pid"]), dict(document["urls"]), str(document["stage"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    url = record.urls.get(service)
    if not _alive(record.pid) or url is None:
        return None
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=1).close()
    except OSError:
        return None
    return record


def note_reload(root: Path, *, pid: int, failure: str | None) -> None:
    """Record whether make dev (``pid``) serves what is on disk: ``failure`` is the line its last
    reload printed when it failed (None: it succeeded, and what runs is what is on disk)."""
    path = root / RELOAD_FAILURE
    if failure is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    _write_private(path, {"pid": pid, "line": failure})


def reload_failure(root: Path, *, pid: int) -> str | None:
    """The line of ``pid``'s last failed reload, if what it serves is older than the code on disk."""
    try:
        document = json.loads((root / RELOAD_FAILURE).read_text())
    except (OSError, ValueError):
        return None
    return str(document.get("line")) if document.get("pid") == pid else None
