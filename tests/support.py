"""What tests of every tier share: the project's paths, sample events, and loading workflow
modules as Lambda would."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import random
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
FUNCTIONS = ROOT / "functions"
SEED_WORKFLOWS = {
    "addThirdPartyDataToAccessToken": "add_third_party_data_to_access_token",
    "addThirdPartyDataUsingEnvs": "add_third_party_data_using_envs",
}
_counter = itertools.count()


def load_workflow(directory: str) -> ModuleType:
    """Import functions/<directory>/app.py afresh, as a new Lambda container would."""
    path = FUNCTIONS / directory / "app.py"
    spec = importlib.util.spec_from_file_location(f"workflow_{directory}_{next(_counter)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def function_for_event(name: str) -> str:
    """The function a sample in events/ is for: by its prefix, and for workflows by the registry."""
    from claimflow_local.template import SamTemplate

    if name.startswith("workflow."):
        workflow_id = name.removeprefix("workflow.").removesuffix(".json")
        found = [e.function for e in SamTemplate.load(ROOT / "template.yaml").registry() if e.id == workflow_id]
        assert found, f"events/{name}: no workflow '{workflow_id}' in the issuer's registry"
        return found[0]
    if name.startswith(("issuer.", "cognito.", "hooks.")):
        return "IssuerFunction"
    if name.startswith("rotation."):
        return "KeyRotationFunction"
    assert name.startswith("jwks."), f"events/{name}: name it workflow.*, issuer.*, cognito.*, hooks.*, rotation.* or jwks.*"
    return "JwksFunction"


def sample(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return document


_figures_lock = threading.Lock()


def record_figure(name: str, value: Any) -> None:
    """Keep a figure a test measured, for ``make reliability`` (``CLAIMFLOW_FIGURES`` names the
    JSON-lines file it collects them in); a no-op otherwise."""
    target = os.environ.get("CLAIMFLOW_FIGURES")
    if target:
        with _figures_lock, open(target, "a") as sink:
            sink.write(json.dumps({"name": name, "value": value}) + "\n")


def npm_installed(directory: Path) -> Path:
    """``directory``'s npm packages, installed from its lock file (``npm ci``, again only when the
    lock file changes). Node 20 and npm are needed: the clients and providers nobody here wrote."""
    import hashlib
    import shutil
    import subprocess

    npm = shutil.which("npm")
    assert shutil.which("node") and npm, "Node.js 20 and npm are needed for the interop tests"
    digest = hashlib.sha256((directory / "package-lock.json").read_bytes()).hexdigest()
    stamp = directory / "node_modules" / ".claimflow-lock-sha256"
    if not stamp.exists() or stamp.read_text() != digest:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=directory, check=True, capture_output=True, timeout=300)
        stamp.write_text(digest)
    return directory


@contextmanager
def holding_ports(count: int, *, listen: bool) -> Iterator[int]:
    """Hold ``count`` consecutive loopback ports (below the ephemeral range, so no other
    process is handed one meanwhile) and yield the first: listening, they are busy; only bound,
    a connection to them is refused. A block someone else already uses is skipped."""
    for base in random.Random().sample(range(20000, 32000, count), 200):
        with ExitStack() as held:
            try:
                for port in range(base, base + count):
                    holder = held.enter_context(socket.socket())
                    holder.bind(("127.0.0.1", port))  # no SO_REUSEADDR: nobody else can bind it now
                    if listen:
                        holder.listen()
            except OSError:
                continue
            yield base
            return
    raise AssertionError(f"no {count} consecutive free ports on 127.0.0.1")


def hook_claims(route: str, answer: Any) -> dict[str, Any]:
    """The access-token claims a claims hook's answer gives its stack, read from that stack's shape."""
    if route == "hydra":
        return dict(answer["session"]["access_token"])
    if route == "zitadel":
        return {claim["key"]: claim["value"] for claim in answer["append_claims"]}
    if route == "okta":
        patches = [c for c in answer["commands"] if c["type"] == "com.okta.access.patch"]
        return {op["path"].removeprefix("/claims/"): op["value"] for c in patches for op in c["value"] if op["op"] == "add"}
    if route == "entra":
        return dict(answer["data"]["actions"][0]["claims"])
    if route == "supabase":
        return dict(answer["claims"])
    return dict(answer["claims"]["access_token"])  # generic


#: What the seed workflows add for a lifetime subscriber, as each stack carries it (Entra: strings only).
def subscriber_claim(route: str) -> dict[str, Any]:
    return {"lifetime_subscriber": "true" if route == "entra" else True}
