"""Replaying recorded logins against the working tree's workflows: each workflow registered for
the recording's trigger runs on what it was given then (event, claims, reserved names), its
fetches and variables answered from the recording (``claimflow.record.replaying``, in the
workflow's own sandbox), and the replies merge under the issuer's own rules
(``claimflow.issuer.policy``). What comes out is compared, claim by claim, with what the
recorded tokens carried.

The workflows run behind the ``WorkflowInvoker`` port: the CLI's is the Lambda emulator on the
built artifacts (``EmulatorWorkflowInvoker``), as the local stack runs them; unit tests run
handlers in process. Replay stops short of signing: the token-size check is the issuer's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimflow.claims import Reserved
from claimflow.errors import ClaimflowError, ContractError
from claimflow.issuer.errors import AccessDeniedError, WorkflowInvocationError, WorkflowOutcomeError
from claimflow.issuer.policy import WorkflowRun, merge_runs
from claimflow.issuer.registry import WorkflowRegistration, WorkflowRegistry
from claimflow.issuer.workflow_invoker import WorkflowInvoker
from claimflow.record import RecordingError
from claimflow.record.diff import ClaimChange, diff_claims
from claimflow.record.provenance import version_label, writers
from claimflow.tokens import TokenKind
from claimflow.triggers import WorkflowTrigger
from claimflow.wire.contracts import WORKFLOW_INVOCATION, validate

__all__ = [
    "EmulatorWorkflowInvoker",
    "LoadedRecording",
    "LoginReplay",
    "Replayer",
    "WorkflowLine",
    "env_values_from_settings",
    "load_recordings",
]

#: (workflow id, variable name) -> the plain variable's value for a replay, or None.
EnvValues = Callable[[str, str], str | None]


@dataclass(frozen=True)
class LoadedRecording:
    source: str
    document: Mapping[str, Any] | None
    error: str | None = None


def load_recordings(paths: Iterable[Path]) -> list[LoadedRecording]:
    """Every recording under ``paths`` (files, or folders searched for ``*.json``), by time;
    one that is not a recording is kept as an error naming its file."""
    files: list[Path] = []
    for path in paths:
        files += sorted(path.rglob("*.json")) if path.is_dir() else [path]
    loaded = []
    for file in files:
        try:
            document = validate("recording.v1", json.loads(file.read_text()))
            loaded.append(LoadedRecording(str(file), document))
        except (OSError, ValueError, ContractError) as error:
            loaded.append(LoadedRecording(str(file), None, f"{file}: not a recording ({error})"))
    return sorted(loaded, key=lambda r: (str(r.document["recorded_at"]) if r.document else "", r.source))


def env_values_from_settings(settings: Mapping[str, Any]) -> EnvValues:
    """Plain variables' values from local settings (``local/settings.json``'s ``env``): the
    workflow's own first, then the stage-wide ones. Recordings hold names only."""
    env = settings.get("env", {})

    def value(workflow_id: str, name: str) -> str | None:
        for scope in (env.get("workflows", {}).get(workflow_id, {}), env.get("shared", {})):
            entry = scope.get(name)
            if entry is not None and not entry.get("secret"):
                return str(entry["value"])
        return None

    return value


@dataclass(frozen=True)
class WorkflowLine:
    id: str
    recorded: str  # its version then ("" when it did not run)
    replayed: str  # its version now ("recorded" when --workflow kept its recorded reply; "" when not run)
    recorded_outcome: str
    replayed_outcome: str


@dataclass
class LoginReplay:
    source: str
    recording_id: str = ""
    recorded_at: str = ""
    recorded_outcome: str = ""
    replayed_outcome: str = ""
    detail: str = ""  # why the replayed login has no token
    tokens: dict[str, str] = field(default_factory=dict)  # token -> jti
    changes: list[ClaimChange] = field(default_factory=list)
    #: (token, claim) -> (recorded setter, replayed setter), each "workflow @version" or None.
    setters: dict[tuple[str, str], tuple[str | None, str | None]] = field(default_factory=dict)
    workflows: list[WorkflowLine] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def changed(self) -> bool:
        return not self.errors and (bool(self.changes) or self.recorded_outcome != self.replayed_outcome)


class EmulatorWorkflowInvoker:
    """Workflows run by the Lambda emulator (``claimflow_local.emulator``) on the built code."""

    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator

    def invoke(self, workflow_id: str, function: str, payload: Mapping[str, Any], *, timeout: float) -> Any:
        name = function.split(":", 1)[0]
        if name not in self.emulator.pools:
            raise WorkflowInvocationError(workflow_id, f"the build has no function {name}")
        result = self.emulator.invoke(name, payload)
        if result.function_error:
            raise WorkflowInvocationError(workflow_id, f"function error: {result.payload[:512].decode(errors='replace')}")
        return json.loads(result.payload)


def _label(workflow: Mapping[str, Any] | None) -> str:
    if not workflow:
        return ""
    return version_label(str(workflow.get("version", "")), str(workflow.get("code_sha256", "")))


def _recorded_run(registration: WorkflowRegistration, workflow: Mapping[str, Any]) -> WorkflowRun:
    """The run a recording holds, as the issuer saw it (``--workflow`` keeps the others as they were)."""
    error = workflow.get("error")
    if workflow.get("outcome") == "failed" and isinstance(error, Mapping) and error.get("type") == "WorkflowInvocationError":
        return WorkflowRun(registration, failure=str(error.get("message")), duration_ms=float(workflow.get("duration_ms", 0)))
    reply = {
        "contract": WORKFLOW_INVOCATION,
        "workflow_id": registration.id,
        "outcome": workflow["outcome"],
        "failure_policy": workflow["failure_policy"],
        "patches": workflow.get("patches", {}),
        "reason": workflow.get("reason"),
        "error": error,
        "duration_ms": float(workflow.get("duration_ms", 0)),
    }
    return WorkflowRun(registration, reply=reply, duration_ms=reply["duration_ms"])


class Replayer:
    """Replays recordings through ``invoker`` under ``registry`` (the working tree's)."""

    def __init__(
        self,
        invoker: WorkflowInvoker,
        registry: WorkflowRegistry,
        *,
        env_values: EnvValues = lambda workflow_id, name: None,
        only: str | None = None,
        configure: Callable[[str, Mapping[str, str]], None] | None = None,
    ) -> None:
        if only is not None and only not in {r.id for r in registry.registrations}:
            known = ", ".join(r.id for r in registry.registrations) or "none"
            raise RecordingError(f"--workflow {only}: the working tree registers no such workflow (it has: {known})")
        self.invoker, self.registry = invoker, registry
        self.env_values, self.only, self.configure = env_values, only, configure
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="claimflow-replay")

    def close(self) -> None:
        self._pool.shutdown(wait=False)

    def _payload(
        self, recording: Mapping[str, Any], registration: WorkflowRegistration, recorded: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], list[str]]:
        """The invocation the issuer sent then, answered from the recording; and what it cannot answer."""
        invocation = recording["invocation"]
        env: dict[str, dict[str, Any] | None] = {}
        problems = []
        for read in (recorded or {}).get("env", []):
            if not read["set"]:
                env[read["name"]] = None
                continue
            entry: dict[str, Any] = {"set": True, "secret": read["secret"]}
            if not read["secret"]:
                value = self.env_values(registration.id, read["name"])
                if value is None:
                    problems.append(
                        f"{registration.id} read the plain variable {read['name']}: recordings keep names only, and the "
                        f"local settings give it no value (add it to local/settings.json's env)"
                    )
                entry["value"] = value or ""
            env[read["name"]] = entry
        payload = {
            "contract": WORKFLOW_INVOCATION,
            "workflow_id": registration.id,
            "trigger": recording["trigger"],
            "correlation_id": f"replay-{recording['id']}",
            "deadline_ms": registration.timeout_ms,
            "event": invocation["event"],
            "tokens": invocation["tokens"],
            "reserved": invocation["reserved"],
            "record": True,
            "replay": {"fetches": list((recorded or {}).get("fetches", [])), "env": env},
        }
        return payload, problems

    def replay(self, recording: Mapping[str, Any], *, source: str = "") -> LoginReplay:
        started = time.perf_counter()
        result = LoginReplay(
            source,
            recording_id=str(recording["id"]),
            recorded_at=str(recording["recorded_at"]),
            recorded_outcome=str(recording["outcome"]),
            tokens={kind: str(token["jti"]) for kind, token in recording["tokens"].items()},
        )
        recorded = {w["id"]: w for w in recording["workflows"]}
        registrations = self.registry.for_trigger(WorkflowTrigger(recording["trigger"]))
        pending: list[tuple[WorkflowRegistration, Any]] = []
        kept: dict[str, WorkflowRun] = {}
        for registration in registrations:
            workflow = recorded.get(registration.id)
            if self.only is not None and registration.id != self.only:
                if workflow is None:
                    result.errors.append(f"{registration.id} is not in the recording, so --workflow {self.only} cannot keep it")
                else:
                    kept[registration.id] = _recorded_run(registration, workflow)
                continue
            if self.configure is not None and workflow is not None:
                self.configure(registration.function, workflow.get("config", {}))
            payload, problems = self._payload(recording, registration, workflow)
            result.errors += problems
            pending.append((registration, self._pool.submit(self._invoke, registration, payload)))
        runs: dict[str, WorkflowRun] = dict(kept)
        replies: dict[str, Mapping[str, Any]] = {}
        for registration, future in pending:
            try:
                run = future.result()
            except Exception as error:  # the emulator itself failed: nothing to compare
                result.errors.append(f"{registration.id}: the replay could not run it: {type(error).__name__}: {error}")
                continue
            runs[registration.id] = run
            reply = run.reply if isinstance(run.reply, Mapping) else {}
            replies[registration.id] = reply.get("recording") or {}
            for miss in replies[registration.id].get("misses", []):
                result.errors.append(f"{registration.id}: the recording has no answer for {miss} ({source or recording['id']})")
        for registration in registrations:
            workflow, now = recorded.get(registration.id), runs.get(registration.id)
            replayed = "recorded" if registration.id in kept else _label(replies.get(registration.id))
            outcome = _outcome(now)
            result.workflows.append(
                WorkflowLine(registration.id, _label(workflow), replayed, str((workflow or {}).get("outcome", "")), outcome)
            )
        for workflow_id, workflow in recorded.items():
            if workflow_id not in {r.id for r in registrations}:
                result.workflows.append(WorkflowLine(workflow_id, _label(workflow), "", str(workflow["outcome"]), "removed"))
        if not result.errors:
            self._compare(recording, [runs[r.id] for r in registrations if r.id in runs], replies, kept, result)
        result.duration_ms = (time.perf_counter() - started) * 1000
        return result

    def _invoke(self, registration: WorkflowRegistration, payload: Mapping[str, Any]) -> WorkflowRun:
        started = time.perf_counter()
        try:
            reply = self.invoker.invoke(registration.id, registration.function, payload, timeout=registration.timeout_ms / 1000)
        except WorkflowInvocationError as error:
            return WorkflowRun(registration, failure=error.cause, duration_ms=(time.perf_counter() - started) * 1000)
        return WorkflowRun(registration, reply=reply, duration_ms=(time.perf_counter() - started) * 1000)

    def _compare(
        self,
        recording: Mapping[str, Any],
        runs: list[WorkflowRun],
        replies: Mapping[str, Mapping[str, Any]],
        kept: Mapping[str, WorkflowRun],
        result: LoginReplay,
    ) -> None:
        invocation = recording["invocation"]
        kinds = [TokenKind(kind) for kind in invocation["token_kinds"]]
        try:
            reserved = Reserved.from_wire(invocation["reserved"])
            merged = merge_runs(runs, tokens=kinds, base=invocation["tokens"], reserved=reserved)
        except WorkflowOutcomeError as refused:
            result.replayed_outcome = "denied" if isinstance(refused, AccessDeniedError) else "refused"
            result.detail = str(refused)
            return
        except ClaimflowError as error:
            result.errors.append(f"the replies could not be merged: {error}")
            return
        result.replayed_outcome = "issued"
        old = {kind: dict(token["custom"]) for kind, token in recording["tokens"].items()}
        new = {kind.value: merged.claims[kind] for kind in kinds}
        result.changes = diff_claims(old, new) if result.recorded_outcome == "issued" else []
        recorded_ok = [w for w in recording["workflows"] if w["outcome"] == "ok"]
        old_by = writers({w["id"]: {t: p["set"] for t, p in w["patches"].items()} for w in recorded_ok}, old)
        new_by = writers(merged.patches, merged.claims)
        labels_then = {w["id"]: _label(w) for w in recording["workflows"]}
        labels_now = {wid: _label(reply) for wid, reply in replies.items()} | dict.fromkeys(kept, "(recorded)")
        for change in result.changes:
            then, now = old_by.get(change.token, {}).get(change.claim), new_by.get(change.token, {}).get(change.claim)
            result.setters[(change.token, change.claim)] = (
                f"{then} {labels_then.get(then, '')}".strip() if then else None,
                f"{now} {labels_now.get(now, '')}".strip() if now else None,
            )


def _outcome(run: WorkflowRun | None) -> str:
    if run is None:
        return ""
    if run.failure is not None:
        return "failed"
    return str(run.reply.get("outcome", "failed")) if isinstance(run.reply, Mapping) else "failed"
