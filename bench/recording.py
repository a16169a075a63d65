"""What recording costs a login, and how fast a replay is; ratios against baselines from the
same run (the machine is shared: absolute numbers move, ratios much less).

1. Logins through the local stack (the issuer and both seed workflows in their sandboxes, the
   identity stack's client timing each round trip) with recording off; on to S3 (the deployed
   path: PutObject with SSE-KMS from the recorder's thread) served by moto in a process of its
   own, and by a stand-in that only answers 200 (the issuer's side alone: moto's own work shares
   this machine's cores, S3's does not share Lambda's); and on to a directory (local mode). The
   issuer is reconfigured between rounds, rounds alternate, and each round starts with untimed
   logins (a reconfigured function starts a new sandbox). p50/p99 each.
2. Replay: the logins recorded in 1 replayed by ``claimflow replay``'s engine on the built
   workflows; ms per recorded login against issuing one (recording off) in the same run.

    python -m bench.recording [--rounds 6] [--logins 60]   (writes bench/recording-results.json)
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.harness import percentile
from claimflow_local.stack.deployment import LocalDeployment

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).with_name("recording-results.json")
BUCKET = "claimflow-bench-recordings"
REPLAY_TARGET_MS = 20.0


def _requests(count: int) -> list[dict[str, Any]]:
    base = json.loads((ROOT / "events" / "issuer.user-token.json").read_text())
    made = []
    for i in range(count):
        request = copy.deepcopy(base)
        request["correlation_id"] = f"bench-{i}"
        if i % 4:
            request["subject"] = f"kp_bench{i:05d}"
        if i % 3 == 0:
            request["event"]["context"]["auth"]["origin"] = "refresh_token_request"
        made.append(request)
    return made


_STAND_IN = """
import http.server, json, sys
seen = open(sys.argv[2], "a", buffering=1)
class Put(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_PUT(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        seen.write(json.loads(body)["correlation_id"] + "\\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Put).serve_forever()
"""


@contextmanager
def _server(command: list[str], probe: str) -> Iterator[str]:
    """A loopback server in a process of its own, on a free port (``{port}`` in ``command``): its URL."""
    import subprocess
    import urllib.request

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    argv = [part.replace("{port}", str(port)) for part in command]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}{probe}", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"{argv[:3]} did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(10)


def _client(url: str, service: str) -> Any:
    import boto3

    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def _s3(url: str, key: str, rate: str) -> dict[str, str | None]:
    return {
        "CLAIMFLOW_RECORD_SAMPLE_RATE": rate,
        "CLAIMFLOW_RECORD_BUCKET": BUCKET,
        "CLAIMFLOW_RECORD_KMS_KEY": key,
        "AWS_ENDPOINT_URL_S3": url,
        "CLAIMFLOW_RECORD_DIR": None,
    }


def _cpu_seconds(stack: LocalDeployment, function: str) -> float:
    """User + system CPU the function's sandboxes have used so far (Linux /proc)."""
    assert stack.emulator is not None
    total = 0.0
    for sandbox in list(stack.emulator.pools[function].idle):
        fields = Path(f"/proc/{sandbox.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _split(values: dict[str, float], recorded: set[str]) -> tuple[list[float], list[float]]:
    return [v for c, v in values.items() if c in recorded], [v for c, v in values.items() if c not in recorded]


def run(*, rounds: int, logins: int, warmup: int = 8) -> dict[str, Any]:
    """Four streams of logins, rounds alternating: recording off; half of them recorded to S3
    (moto), half to the stand-in, and every one to a directory. Within the two S3 streams a
    login is recorded or not by the sampler's draw, so recorded and unrecorded logins run
    interleaved in the same sandbox: the fairest comparison a shared machine allows."""
    folder = Path(tempfile.mkdtemp(prefix="claimflow-bench-recordings-"))
    seen = Path(tempfile.mkstemp(prefix="claimflow-bench-stand-in-")[1])
    requests = _requests(logins)
    samples: dict[str, dict[str, float]] = {"off": {}, "s3": {}, "s3_stand_in": {}, "directory": {}}
    cpu = dict.fromkeys(samples, 0.0)  # the issuer's sandbox's CPU seconds over the timed logins
    with (
        open(os.devnull, "w") as sink,
        _server([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "{port}"], "/moto-api/") as s3_url,
        _server([sys.executable, "-c", _STAND_IN, "{port}", str(seen)], "/") as stand_in_url,
        LocalDeployment(root=ROOT, log=sink) as stack,
    ):
        assert stack.emulator is not None
        key = _client(s3_url, "kms").create_key(Description="bench recordings")["KeyMetadata"]["Arn"]
        _client(s3_url, "s3").create_bucket(Bucket=BUCKET)
        modes: dict[str, dict[str, str | None]] = {
            "off": {"CLAIMFLOW_RECORD_SAMPLE_RATE": "0", "CLAIMFLOW_RECORD_BUCKET": None, "CLAIMFLOW_RECORD_DIR": None},
            "s3": _s3(s3_url, key, "0.5"),
            "s3_stand_in": _s3(stand_in_url, key, "0.5"),  # S3's answer without S3's work: the issuer's side alone
            "directory": {
                "CLAIMFLOW_RECORD_SAMPLE_RATE": "0",
                "CLAIMFLOW_RECORD_BUCKET": None,
                "CLAIMFLOW_RECORD_DIR": str(folder),
            },
        }
        client = stack.issuer_client()
        for round_number in range(rounds):
            order = list(modes) if round_number % 2 == 0 else list(reversed(modes))
            for mode in order:
                stack.emulator.override_environment("IssuerFunction", **modes[mode])
                for request in requests[:warmup]:  # a new sandbox: its first logins pay its imports
                    client.request_tokens({**request, "correlation_id": f"warmup-{mode}-{round_number}"})
                time.sleep(0.2)  # the warm-up's recordings written
                before = _cpu_seconds(stack, "IssuerFunction")
                for i, request in enumerate(requests):
                    correlation_id = f"bench-{mode}-{round_number}-{i}"
                    started = time.perf_counter()
                    client.request_tokens({**request, "correlation_id": correlation_id})
                    samples[mode][correlation_id] = (time.perf_counter() - started) * 1000
                time.sleep(0.2)  # and this round's
                cpu[mode] += _cpu_seconds(stack, "IssuerFunction") - before
        time.sleep(1.0)  # the recorders' threads finish the last writes
        s3 = _client(s3_url, "s3")
        keys = [
            o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET) for o in page.get("Contents", [])
        ]
        in_s3 = {json.loads(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read())["correlation_id"] for k in keys}
    in_stand_in = set(seen.read_text().split())
    figures: dict[str, Any] = {}

    def quantiles(name: str, values: list[float]) -> None:
        figures[f"{name}_n"] = len(values)
        figures[f"{name}_p50_ms"] = round(percentile(values, 50), 2)
        figures[f"{name}_p99_ms"] = round(percentile(values, 99), 2)

    for mode, values in samples.items():
        quantiles(f"stream_{mode}", list(values.values()))
    for mode, recorded_ids in (("s3", in_s3), ("s3_stand_in", in_stand_in)):
        recorded, unrecorded = _split(samples[mode], recorded_ids)
        quantiles(f"{mode}_recorded", recorded)
        quantiles(f"{mode}_unrecorded", unrecorded)
        for q in ("p50", "p99"):
            figures[f"{mode}_recorded_over_unrecorded_{q}"] = round(
                figures[f"{mode}_recorded_{q}_ms"] / figures[f"{mode}_unrecorded_{q}_ms"], 3
            )
    for mode in ("s3", "s3_stand_in", "directory"):
        for q in ("p50", "p99"):
            figures[f"stream_{mode}_over_off_{q}"] = round(figures[f"stream_{mode}_{q}_ms"] / figures[f"stream_off_{q}_ms"], 3)
    figures["recorded_to_directory"] = len(list(folder.glob("*.json")))
    for mode, seconds in cpu.items():
        figures[f"issuer_cpu_per_login_{mode}_us"] = round(seconds / len(samples[mode]) * 1e6)
    recorded_share = {
        "off": 0.0,
        "s3": len(in_s3) / len(samples["s3"]),
        "s3_stand_in": len(in_stand_in) / len(samples["s3_stand_in"]),
    }
    recorded_share["directory"] = 1.0
    for mode in ("s3", "s3_stand_in", "directory"):
        extra = (cpu[mode] - cpu["off"] * len(samples[mode]) / len(samples["off"])) / (len(samples[mode]) * recorded_share[mode])
        figures[f"issuer_cpu_per_recording_{mode}_us"] = round(extra * 1e6)

    from claimflow_local.cli.replay import replay_recordings

    recorded_files = sorted(folder.glob("*.json"))[-logins:]  # one round's worth: every kind of login once
    replay_folder = Path(tempfile.mkdtemp(prefix="claimflow-bench-replay-"))
    for path in recorded_files:
        (replay_folder / path.name).write_bytes(path.read_bytes())
    results, timing = replay_recordings(ROOT, [replay_folder], build=False)
    figures["replay_logins"] = len(results)
    figures["replay_changed_or_failed"] = sum(1 for r in results if r.changed or r.errors)
    figures["replay_per_login_ms"] = timing["per_login_ms"]
    figures["replay_p95_ms"] = timing["p95_ms"]
    figures["issue_per_login_ms"] = round(statistics.mean(samples["off"].values()), 2)
    figures["replay_over_issue"] = round(timing["per_login_ms"] / figures["issue_per_login_ms"], 3)
    figures["replay_target_ms"] = REPLAY_TARGET_MS
    figures["replay_within_target"] = timing["per_login_ms"] <= REPLAY_TARGET_MS
    figures["machine"] = f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.recording")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--logins", type=int, default=60)
    args = parser.parse_args(argv)
    figures = run(rounds=args.rounds, logins=args.logins)
    OUT.write_text(json.dumps(figures, indent=2) + "\n")
    for key, value in figures.items():
        print(f"{key:32} {value}")
    return 0 if figures["replay_within_target"] and figures["replay_changed_or_failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
