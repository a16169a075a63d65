"""``claimflow recordings pull --stage STAGE [--since 24h] [--bucket NAME] [--to DIR]``: download
a window of a stage's recorded logins (``RecordSampleRate`` above 0 records them to S3) into
``.claimflow/recordings/<stage>/``, where ``claimflow replay`` finds them.

The bucket is the one the stage's template made (its name is in SSM, at
``/claimflow/<stage>/recordings/bucket``), unless ``--bucket`` names it. Recording names sort
as time does, so a window is one listing from ``--since`` on. Needs s3:ListBucket and
s3:GetObject on the bucket, and kms:Decrypt on its key (through S3).
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path
from typing import Any

from claimflow.environment import SsmPaths
from claimflow_local.cli.errors import CommandError, aws_client, reaching_aws
from claimflow_local.cli.explain import parse_since

__all__ = ["add_arguments", "pull", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["pull"])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--since", default="24h", help="from when: 30m, 24h, 7d or a time such as 2026-12-01T09:00 (UTC)")
    parser.add_argument("--bucket", help="the recordings bucket (default: the stage's, from SSM)")
    parser.add_argument("--to", type=Path, help="where to put them (default .claimflow/recordings/<stage>)")


def pull(s3: Any, *, bucket: str, stage: str, since: float, to: Path) -> tuple[list[Path], int]:
    """Download the stage's recordings made since ``since`` (epoch seconds) into ``to``; the files
    written, and how many were there already."""
    prefix = SsmPaths(stage=stage).recordings_prefix()
    start = datetime.datetime.fromtimestamp(since, datetime.UTC).strftime("%Y-%m-%dT%H-%M-%S.%fZ")
    written: list[Path] = []
    present = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, StartAfter=prefix + start):
        for item in page.get("Contents", []):
            name = item["Key"][len(prefix) :]
            if "/" in name or not name.endswith(".json"):
                continue
            target = to / name
            if target.exists():
                present += 1
                continue
            to.mkdir(parents=True, exist_ok=True)
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            partial = target.with_name(f".{name}.partial")
            partial.write_bytes(body)
            partial.replace(target)
            written.append(target)
    return written, present


def run(args: argparse.Namespace) -> int:

    root: Path = args.root.resolve()
    since = parse_since(args.since)
    to = args.to or root / ".claimflow" / "recordings" / args.stage
    with reaching_aws(local=False, service="S3"):
        bucket = args.bucket
        if not bucket:
            name = SsmPaths(stage=args.stage).recordings_bucket
            ssm = aws_client("ssm")
            try:
                bucket = ssm.get_parameter(Name=name)["Parameter"]["Value"]
            except ssm.exceptions.ParameterNotFound:
                raise CommandError(
                    f"stage {args.stage} records nothing ({name} is not set): deploy it with RecordSampleRate above 0, "
                    "or name the bucket with --bucket"
                ) from None
        written, present = pull(aws_client("s3"), bucket=bucket, stage=args.stage, since=since, to=to)
    when = datetime.datetime.fromtimestamp(since, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    shown = to.relative_to(root) if to.is_relative_to(root) else to
    print(f"pulled {len(written)} recording(s) of stage {args.stage} made since {when} into {shown} ({present} already there)")
    print(f"replay them against your working tree: ./claimflow replay {shown}")
    return 0
