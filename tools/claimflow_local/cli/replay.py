"""``claimflow replay [PATH ...] [--workflow ID] [--json] [--no-build]``: recorded logins
against the working tree's workflows, claim by claim.

Each recording (default: every ``*.json`` under ``.claimflow/recordings``) runs through the
built workflows (``sam build --cached`` first, as the local stack does; the Lambda emulator
runs them) with every fetch served from its recorded answer: no network. Prints, per token,
the claims added, removed and changed (recorded → replayed) with the workflow and version that
set each, then a summary and the timing. Exit 0 when no claim changed, 1 when one did, 2 when
a recording could not be replayed (a fetch it lacks is named).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from claimflow.issuer.registry import WorkflowRegistration, WorkflowRegistry
from claimflow.record import RecordingError
from claimflow.record.diff import show
from claimflow_local.cli.errors import CommandError
from claimflow_local.replay import EmulatorWorkflowInvoker, LoginReplay, Replayer, env_values_from_settings, load_recordings
from claimflow_local.template import SamTemplate

__all__ = ["DEFAULT_RECORDINGS", "add_arguments", "exit_status", "render", "replay_recordings", "run"]

DEFAULT_RECORDINGS = Path(".claimflow") / "recordings"
#: The sandboxes' variables: local mode (a replay is refused otherwise), no metrics, errors only.
_QUIET_LOCAL = {"CLAIMFLOW_LOCAL_MODE": "1", "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, help=f"recordings or folders of them (default {DEFAULT_RECORDINGS})")
    parser.add_argument("--workflow", help="replay only this workflow; the others keep their recorded replies")
    parser.add_argument("--json", action="store_true", help="the report as JSON (for CI)")
    parser.add_argument("--no-build", action="store_true", help="replay the last build as it is (no sam build first)")


def _registry(template: SamTemplate) -> WorkflowRegistry:
    return WorkflowRegistry(
        [
            WorkflowRegistration(
                id=e.id,
                trigger=e.trigger,  # type: ignore[arg-type]
                function=e.function,
                failure_policy=e.failure_policy,  # type: ignore[arg-type]
                timeout_ms=e.timeout_ms,
            )
            for e in template.registry()
        ]
    )


def replay_recordings(
    root: Path, paths: list[Path], *, only: str | None = None, build: bool = True
) -> tuple[list[LoginReplay], dict[str, float]]:
    """Replay every recording under ``paths``; the results (by time) and the timing."""
    from claimflow_local.emulator import LambdaEmulator
    from claimflow_local.stack.deployment import BuildError, built_snapshot
    from claimflow_local.stack.ssm import load_settings

    loaded = load_recordings(paths)
    if not loaded:
        raise CommandError(
            f"no recordings under {', '.join(map(str, paths))}: run make dev and sign in (local mode records every login), "
            "or fetch a stage's: claimflow recordings pull --stage STAGE"
        )
    started = time.perf_counter()
    try:
        with open(os.devnull, "w") as sink:
            template_path = built_snapshot(root, build=build, log=sink)
    except BuildError as error:
        raise CommandError(str(error)) from None
    results: list[LoginReplay] = []
    emulator = LambdaEmulator(
        template_path,
        parameter_overrides={"Stage": "local"},
        env_vars={"Parameters": _QUIET_LOCAL},
    )
    replayer: Replayer | None = None
    try:
        emulator.start()
        registry = _registry(emulator.template)
        applied: dict[str, dict[str, str]] = {}

        def configure(function: str, config: Mapping[str, str]) -> None:
            """The function's configuration as recorded (e.g. API_BASE_URL): the same URLs as then."""
            name = function.split(":", 1)[0]
            if name in emulator.pools and applied.get(name) != dict(config):
                applied[name] = dict(config)
                emulator.override_environment(name, **config)

        first = next((r.document for r in loaded if r.document), None)
        for workflow in (first or {}).get("workflows", []):
            configure(workflow["function"].split(":", 1)[0], workflow.get("config", {}))  # before the sandboxes start
        names = sorted({r.function.split(":", 1)[0] for r in registry.registrations} & set(emulator.pools))
        emulator.warm(*names)
        settings = load_settings(root / "local" / "settings.json") if (root / "local" / "settings.json").exists() else {}
        try:
            replayer = Replayer(
                EmulatorWorkflowInvoker(emulator),
                registry,
                env_values=env_values_from_settings(settings),
                only=only,
                configure=configure,
            )
        except RecordingError as error:
            raise CommandError(str(error)) from None
        # A sandbox's first invocation imports what the workflow needs (Lambda's cold start): once per
        # trigger, untimed and discarded, so the timing is of replaying, not of starting.
        for trigger in sorted({str(r.document["trigger"]) for r in loaded if r.document}):
            warm_up = next(r for r in loaded if r.document and r.document["trigger"] == trigger)
            replayer.replay(warm_up.document or {}, source=warm_up.source)
        ready = time.perf_counter()
        for recording in loaded:
            if recording.document is None:
                results.append(LoginReplay(recording.source, errors=[recording.error or "unreadable"]))
            else:
                results.append(replayer.replay(recording.document, source=recording.source))
        done = time.perf_counter()
    finally:
        if replayer is not None:
            replayer.close()
        emulator.stop()
        shutil.rmtree(template_path.parent, ignore_errors=True)
    per_login = [r.duration_ms for r in results if r.recording_id]
    timing = {
        "start_s": round(ready - started, 3),
        "replay_s": round(done - ready, 3),
        "per_login_ms": round((done - ready) * 1000 / max(1, len(per_login)), 2),
        "p50_ms": round(statistics.median(per_login), 2) if per_login else 0.0,
        "p95_ms": round(statistics.quantiles(per_login, n=20, method="inclusive")[-1], 2) if len(per_login) >= 2 else 0.0,
        "max_ms": round(max(per_login), 2) if per_login else 0.0,
    }
    return results, timing


def _setters(then: str | None, now: str | None) -> str:
    """``wf @v1 → @v2`` when one workflow set it both times, else both in full; (request): the
    identity stack's token request carried the claim, no workflow set it."""
    if then == now:
        return then or "(request)"
    if then and now and then.split(" ", 1)[0] == now.split(" ", 1)[0]:
        return f"{then} → {now.split(' ', 1)[1] if ' ' in now else now}"
    return f"{then or '(request)'} → {now or '(request)'}"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render(results: list[LoginReplay], timing: Mapping[str, float], *, as_json: bool = False) -> str:
    changed = [r for r in results if r.changed]
    errors = [e for r in results for e in r.errors]
    counts = Counter((c.token, c.claim, c.change) for r in results for c in r.changes)
    outcomes = Counter(
        f"{r.recorded_outcome} → {r.replayed_outcome}" for r in changed if r.recorded_outcome != r.replayed_outcome
    )
    if as_json:
        return json.dumps(
            {
                "logins": [
                    {
                        **asdict(r),
                        "setters": [
                            {"token": t, "claim": c, "recorded": a, "replayed": b} for (t, c), (a, b) in r.setters.items()
                        ],
                        "changed": r.changed,
                    }
                    for r in results
                ],
                "summary": {"logins": len(results), "changed": len(changed), "errors": len(errors)},
                "timing": dict(timing),
            },
            indent=2,
            default=str,
        )
    lines = [f"{'recording':30} {'token':22} {'claim':22} {'recorded → replayed':28} set by (recorded → replayed)", "-" * 140]
    for result in changed:
        when = f"{result.recorded_at[:19]} {result.recording_id[:8]}"
        if result.recorded_outcome != result.replayed_outcome:
            outcome = f"{result.recorded_outcome} → {result.replayed_outcome}"
            lines.append(f"{when:30} {'(login)':22} {'':22} {outcome:28} {result.detail}")
        for change in result.changes:
            token = f"{change.token} {result.tokens.get(change.token, '')[:8]}"
            if change.change == "added":
                values = f"(none) → {show(change.new, limit=18)}"
            elif change.change == "removed":
                values = f"{show(change.old, limit=18)} → (none)"
            else:
                values = f"{show(change.old, limit=12)} → {show(change.new, limit=12)}"
            by = _setters(*result.setters.get((change.token, change.claim), (None, None)))
            lines.append(f"{when:30} {token:22} {_short(change.claim, 22):22} {values:28} {by}")
    if not changed:
        lines.append("(no claim changed)")
    lines.append("")
    tokens = sum(len(r.tokens) for r in results)
    lines.append(
        f"summary: {len(results)} login(s), {tokens} token(s): {len(changed)} login(s) changed, "
        f"{len(results) - len(changed) - sum(1 for r in results if r.errors)} unchanged, "
        f"{sum(1 for r in results if r.errors)} could not be replayed"
    )
    for (token, claim, how), count in sorted(counts.items()):
        lines.append(f"  {claim} ({token}): {how} in {count}")
    for moved, count in sorted(outcomes.items()):
        lines.append(f"  outcome {moved}: {count}")
    versions = {(w.id, w.recorded, w.replayed) for r in results for w in r.workflows}
    for workflow_id, then, now in sorted(versions):
        lines.append(f"  workflow {workflow_id}: {then or '(not run)'} → {now or '(not run)'}")
    for error in errors[:20]:
        lines.append(f"error: {error}")
    if len(errors) > 20:
        lines.append(f"error: … and {len(errors) - 20} more")
    lines.append(
        f"timing: {len(results)} login(s) replayed in {timing['replay_s']:.2f} s, {timing['per_login_ms']:.1f} ms per login "
        f"(p50 {timing['p50_ms']:.1f}, p95 {timing['p95_ms']:.1f}, max {timing['max_ms']:.1f} ms); "
        f"start {timing['start_s']:.1f} s (build, sandboxes, one untimed replay per trigger)"
    )
    return "\n".join(lines)


def exit_status(results: list[LoginReplay]) -> int:
    if any(r.errors for r in results):
        return 2
    return 1 if any(r.changed for r in results) else 0


def run(args: argparse.Namespace) -> int:
    root: Path = args.root.resolve()
    paths = args.paths or [root / DEFAULT_RECORDINGS]
    results, timing = replay_recordings(root, paths, only=args.workflow, build=not args.no_build)
    print(render(results, timing, as_json=args.json))
    return exit_status(results)
