"""``claimflow explain TOKEN [--stage STAGE]``: each custom claim of a token ← the workflow and
version that set it ← the fetch it came from (URL, status).

TOKEN is a JWT (its claims are read, not verified: explain needs no key) or its ``jti``.
Locally the answer comes from the recordings (``.claimflow/recordings``; every local login is
recorded). For a deployed stage it comes from the stage's logs, through two CloudWatch Logs
Insights queries: the issuer's ``token issued`` line (each token's ``jti``, and which workflow
set each claim), then the workflows' ``workflow finished`` lines under the same correlation id
(their version and the fetches they made). Logs hold no answer bodies, so there a claim's
fetch is the one its workflow made, or the list when it made several.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from claimflow.record.diff import show
from claimflow.record.provenance import ClaimOrigin, FetchOrigin, explain_recording, find_token, version_label
from claimflow_local.cli.errors import CommandError, aws_client, reaching_aws
from claimflow_local.replay import load_recordings

__all__ = ["add_arguments", "explain_from_logs", "explain_local", "issuer_query", "parse_since", "run", "workflows_query"]

_SAFE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")  # what may go into a query's string literal


class ExplainError(CommandError):
    """The token cannot be explained from what was asked."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("token", help="a JWT, or its jti")
    parser.add_argument("--stage", help="a deployed stage: read its logs (CloudWatch Logs Insights) instead of local recordings")
    parser.add_argument("--recordings", nargs="*", type=Path, help="recordings to search (default .claimflow/recordings)")
    parser.add_argument("--since", default="24h", help="with --stage and a bare jti: how far back to look (24h, 7d, or a time)")
    parser.add_argument("--json", action="store_true")


def parse_since(text: str, *, now: float | None = None) -> float:
    """``30m``, ``24h``, ``7d`` ago, or an ISO time (UTC when it names no zone): epoch seconds."""
    now = time.time() if now is None else now
    relative = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if relative:
        return now - int(relative[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[relative[2]]
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(f"--since {text!r}: give 30m, 24h, 7d or a time such as 2026-12-01T09:00") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)).timestamp()


def _token(text: str) -> tuple[str, dict[str, Any] | None]:
    """The jti, and the claims when ``text`` is a JWT."""
    parts = text.strip().split(".")
    if len(parts) != 3:
        return text.strip(), None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        raise ExplainError("TOKEN looks like a JWT but its payload is not base64url JSON") from None
    if not isinstance(claims, dict) or not claims.get("jti"):
        raise ExplainError("the token has no jti claim: claimflow's tokens always carry one")
    return str(claims["jti"]), claims


def explain_local(jti: str, paths: Sequence[Path]) -> tuple[dict[str, Any], str, list[ClaimOrigin]]:
    """The recording holding token ``jti``, which of its tokens it is, and each claim's origin."""
    for loaded in reversed(load_recordings(paths)):
        if loaded.document is not None:
            kind = find_token(loaded.document, jti)
            if kind is not None:
                return dict(loaded.document), kind, explain_recording(loaded.document, kind)
    searched = ", ".join(map(str, paths))
    raise ExplainError(
        f"no recording under {searched} issued a token with jti {jti}; "
        "for a deployed stage's token: claimflow explain TOKEN --stage STAGE"
    )


# --- a stage: its logs ---------------------------------------------------------------------


def issuer_query(jti: str) -> str:
    """The issuer's line for the token (its ``jti`` among the tokens it issued at once)."""
    return (
        "fields @timestamp, @message\n"
        f'| filter message = "token issued" and @message like "{jti}"\n'
        "| sort @timestamp desc\n"
        "| limit 5"
    )


def workflows_query(correlation_id: str) -> str:
    """The workflows' lines for one token request."""
    return (
        "fields @timestamp, @message, @log\n"
        f'| filter message = "workflow finished" and correlation_id = "{correlation_id}"\n'
        "| sort @timestamp desc\n"
        "| limit 50"
    )


def _query(logs: Any, groups: list[str], query: str, start: float, end: float, *, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Run a Logs Insights query to completion; each row's parsed ``@message``."""
    query_id = logs.start_query(logGroupNames=groups, startTime=int(start), endTime=int(end) + 1, queryString=query)["queryId"]
    deadline = time.monotonic() + timeout
    while True:
        answer = logs.get_query_results(queryId=query_id)
        if answer["status"] in ("Complete", "Failed", "Cancelled", "Timeout"):
            break
        if time.monotonic() > deadline:
            raise ExplainError(f"the Logs Insights query did not finish within {timeout:.0f} s")
        time.sleep(0.5)
    if answer["status"] != "Complete":
        raise ExplainError(f"the Logs Insights query ended {answer['status']}")
    lines = []
    for row in answer.get("results", []):
        fields = {cell["field"]: cell.get("value") for cell in row}
        try:
            message = json.loads(fields.get("@message") or "")
        except ValueError:
            continue
        if isinstance(message, dict):
            lines.append(message)
    return lines


def explain_from_logs(
    logs: Any, *, stage: str, jti: str, start: float, end: float, claims: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], str, list[ClaimOrigin]]:
    """The token's origins from the stage's logs. Every line a query returns is checked again
    here (its message, jti, correlation id), so an answer never rests on the query's filter alone."""
    if not _SAFE.match(jti):
        raise ExplainError(f"{jti!r} is not a jti claimflow issues")
    issuer_group = f"/aws/lambda/claimflow-{stage}-issuer"
    issued = [
        line
        for line in _query(logs, [issuer_group], issuer_query(jti), start, end)
        if line.get("message") == "token issued" and jti in (line.get("jti") or {}).values()
    ]
    if not issued:
        raise ExplainError(
            f"no 'token issued' line with jti {jti} in {issuer_group} between "
            f"{datetime.datetime.fromtimestamp(start, datetime.UTC):%Y-%m-%d %H:%M} and "
            f"{datetime.datetime.fromtimestamp(end, datetime.UTC):%Y-%m-%d %H:%M} UTC (--since widens it)"
        )
    line = issued[0]
    kind = next(k for k, v in line["jti"].items() if v == jti)
    correlation_id = str(line.get("correlation_id", ""))
    groups = [
        g["logGroupName"]
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=f"/aws/lambda/claimflow-{stage}-")
        for g in page.get("logGroups", [])
        if not g["logGroupName"].endswith(("-issuer", "-jwks", "-key-rotation"))
    ]
    runs: dict[str, dict[str, Any]] = {}
    if groups and _SAFE.match(correlation_id):
        for run in _query(logs, groups[:50], workflows_query(correlation_id), start, end + 60):
            if run.get("message") == "workflow finished" and run.get("correlation_id") == correlation_id:
                runs.setdefault(str(run.get("workflow_id")), run)
    origins = []
    for claim, workflow_id in sorted((line.get("set_by") or {}).get(kind, {}).items()):
        run = runs.get(workflow_id, {})
        fetches = run.get("fetches") or []
        fetch = None
        if fetches:
            why = "the fetch its workflow made" if len(fetches) == 1 else f"one of the {len(fetches)} fetches its workflow made"
            last = fetches[-1]
            fetch = FetchOrigin(str(last["method"]), " | ".join(f["url"] for f in fetches), int(last["status"]), why)
        value = (claims or {}).get(claim, "(in the token)")
        origins.append(
            ClaimOrigin(kind, claim, value, workflow_id, version_label(str(run.get("function_version", "")), ""), fetch)
        )
    source = {"stage": stage, "correlation_id": correlation_id, "recorded_at": "", "id": "", "log_group": issuer_group}
    return source, kind, origins


# --- the command ---------------------------------------------------------------------------


def render(source: Mapping[str, Any], kind: str, jti: str, origins: list[ClaimOrigin], *, as_json: bool = False) -> str:
    if as_json:
        return json.dumps({"token": kind, "jti": jti, "source": dict(source), "claims": [asdict(o) for o in origins]}, indent=2)
    where = (
        f"recording {source.get('recorded_at', '')[:19]} {source.get('id', '')}"
        if source.get("id")
        else f"logs {source.get('log_group')}"
    )
    lines = [f"{kind} jti {jti}  ({where}, correlation {source.get('correlation_id')}, stage {source.get('stage')})"]
    if not origins:
        lines.append("  no custom claims: only what the issuer mints")
    for origin in origins:
        lines.append(f"  {origin.claim} = {show(origin.value)}")
        if origin.workflow is None:
            lines.append("    ← the identity stack's token request (its claims), no workflow")
            continue
        also = f"   (also set by {', '.join(origin.overridden)}, which the later one overrides)" if origin.overridden else ""
        lines.append(f"    ← {origin.workflow} {origin.version}{also}")
        if origin.fetch is None:
            lines.append("    ← no fetch: set from the event, the token's claims or the code")
        else:
            lines.append(f"    ← {origin.fetch.method} {origin.fetch.url} → {origin.fetch.status}   ({origin.fetch.why})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    jti, claims = _token(args.token)
    if args.stage:
        now = time.time()
        if claims and isinstance(claims.get("iat"), int):
            start, end = claims["iat"] - 900, claims["iat"] + 900  # the token says when it was issued
        else:
            start, end = parse_since(args.since, now=now), now
        with reaching_aws(local=False, service="CloudWatch Logs"):
            source, kind, origins = explain_from_logs(
                aws_client("logs"), stage=args.stage, jti=jti, start=start, end=end, claims=claims
            )
    else:
        root: Path = args.root.resolve()
        source, kind, origins = explain_local(jti, args.recordings or [root / ".claimflow" / "recordings"])
    print(render(source, kind, jti, origins, as_json=args.json))
    return 0
