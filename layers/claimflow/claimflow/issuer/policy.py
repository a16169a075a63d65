"""The rules that turn workflow replies into the final custom claims, or into no token.

Pure: replies in, claims and a report out. Order of precedence: a denial (access_denied),
then a ``stop`` failure (server_error naming the workflow); ``continue`` failures are
reported and skipped; patches merge in configured order and the later writer of a claim
wins (each such conflict is returned for the caller to log).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from claimflow.claims import Reserved, check_patch
from claimflow.errors import ClaimflowError, ContractError
from claimflow.issuer.errors import AccessDeniedError, WorkflowFailedError
from claimflow.issuer.registry import WorkflowRegistration
from claimflow.settings import FailurePolicy
from claimflow.tokens import TokenKind
from claimflow.wire.contracts import (
    MAX_FETCH_ERRORS,
    WORKFLOW_INVOCATION,
    FetchErrorReport,
    Outcome,
    WorkflowReport,
    validate,
)

__all__ = ["ClaimConflict", "Merged", "WorkflowRun", "merge_runs"]


@dataclass(frozen=True)
class WorkflowRun:
    """What happened to one workflow: its decoded reply, or why there is none."""

    registration: WorkflowRegistration
    reply: Any = None
    failure: str | None = None  # crash, timeout, unreadable reply
    duration_ms: float = 0.0


@dataclass(frozen=True)
class ClaimConflict:
    token: TokenKind
    claim: str
    earlier: str
    later: str


@dataclass
class Merged:
    claims: dict[TokenKind, dict[str, Any]]
    report: list[WorkflowReport]
    conflicts: list[ClaimConflict] = field(default_factory=list)
    skipped_failures: int = 0
    #: Each merged workflow's checked patch per token, by workflow id (to find what made a token too large).
    patches: dict[str, dict[TokenKind, dict[str, Any]]] = field(default_factory=dict)


def _checked(
    run: WorkflowRun, tokens: Sequence[TokenKind], reserved: Reserved, dropped: Mapping[str, str]
) -> tuple[Outcome, Any]:
    """(outcome, patches | reason | cause) after re-checking the reply."""
    if run.failure is not None:
        return Outcome.FAILED, run.failure
    if run.registration.id in dropped:
        return Outcome.FAILED, dropped[run.registration.id]
    try:
        reply = validate("workflow-invocation-reply.v1", run.reply)
    except ContractError as error:
        return Outcome.FAILED, f"malformed reply: {error}"
    if reply["contract"] != WORKFLOW_INVOCATION or reply["workflow_id"] != run.registration.id:
        return Outcome.FAILED, f"the reply is from workflow '{reply['workflow_id']}', not '{run.registration.id}'"
    if reply["outcome"] == Outcome.DENIED:
        return Outcome.DENIED, reply["reason"]
    if reply["outcome"] == Outcome.FAILED:
        failure = reply["error"]
        return Outcome.FAILED, f"{failure['type']}: {failure['message']}"
    patches: dict[TokenKind, tuple[dict[str, Any], bool]] = {}
    for name, patch in reply["patches"].items():
        token = TokenKind(name)
        if token not in tokens:
            continue  # e.g. an ID-token patch when the request did not ask for openid
        try:
            claims = check_patch(token, patch["set"], reserved)
        except ClaimflowError as error:
            return Outcome.FAILED, str(error)
        patches[token] = (claims, patch["reset"])
    return Outcome.OK, patches


def merge_runs(
    runs: Sequence[WorkflowRun],
    *,
    tokens: Sequence[TokenKind],
    base: Mapping[str, Mapping[str, Any]],
    reserved: Reserved,
    dropped: Mapping[str, str] | None = None,
) -> Merged:
    """Apply the failure policy and merge patches; raise AccessDeniedError / WorkflowFailedError.

    ``reserved``: what the token's signer keeps (claims minted by claimflow, or locked by the
    identity stack that signs, and its namespaces); a workflow that sets one has failed.
    ``dropped``: workflows to treat as failed with that cause (a patch that made a token too large).
    """
    checked = [(run, *_checked(run, tokens, reserved, dropped or {})) for run in runs]
    report = [_report(run, outcome, detail) for run, outcome, detail in checked]

    for run, outcome, detail in checked:
        if outcome is Outcome.DENIED:
            raise AccessDeniedError(run.registration.id, detail, report=report)
    for run, outcome, detail in checked:
        if outcome is Outcome.FAILED and run.registration.failure_policy is FailurePolicy.STOP:
            raise WorkflowFailedError(run.registration.id, detail, report=report)

    claims: dict[TokenKind, dict[str, Any]] = {t: dict(base.get(t.value, {})) for t in tokens}
    writers: dict[tuple[TokenKind, str], str] = {}
    conflicts: list[ClaimConflict] = []
    skipped = 0
    merged_patches: dict[str, dict[TokenKind, dict[str, Any]]] = {}
    for run, outcome, detail in checked:
        if outcome is not Outcome.OK:
            skipped += 1
            continue
        merged_patches[run.registration.id] = {token: patch for token, (patch, _) in detail.items()}
        for token, (patch, reset) in detail.items():
            if reset:  # resetClaims: start from the token's defaults, dropping earlier custom claims
                claims[token] = {}
                writers = {k: v for k, v in writers.items() if k[0] is not token}
            for name, value in patch.items():
                earlier = writers.get((token, name))
                if earlier is not None and earlier != run.registration.id:
                    conflicts.append(ClaimConflict(token, name, earlier, run.registration.id))
                writers[(token, name)] = run.registration.id
                claims[token][name] = value
    return Merged(claims, report, conflicts, skipped, merged_patches)


def _report(run: WorkflowRun, outcome: Outcome, detail: Any) -> WorkflowReport:
    entry: WorkflowReport = {
        "id": run.registration.id,
        "outcome": outcome.value,
        "duration_ms": round(run.duration_ms, 3),
        "failure_policy": run.registration.failure_policy.value,
    }
    if outcome is Outcome.FAILED:
        entry["error"] = str(detail)[:1024]
    elif outcome is Outcome.DENIED:
        entry["reason"] = str(detail)
    fetch_errors = _fetch_errors(run.reply)
    if fetch_errors:
        entry["fetch_errors"] = fetch_errors
    return entry


def _fetch_errors(reply: Any) -> list[FetchErrorReport]:
    """The reply's error-status fetches, in the report's shape (a malformed reply's are dropped
    one by one, never the report's shape)."""
    listed = reply.get("fetch_errors") if isinstance(reply, Mapping) else None
    if not isinstance(listed, list):
        return []
    return [
        {"url": item["url"][:1024], "status": item["status"]}
        for item in listed[:MAX_FETCH_ERRORS]
        if isinstance(item, Mapping)
        and isinstance(item.get("url"), str)
        and type(item.get("status")) is int
        and 400 <= item["status"] <= 599
    ]
