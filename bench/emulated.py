"""The issuer's sandbox under load through the emulator: its peak memory, reported."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
Result = tuple[dict[str, Any], dict[str, dict[str, Any]]]


def peak_rss(requests_total: int = 300, concurrency: int = 4) -> Result:
    from claimflow_local.stack.deployment import LocalDeployment

    request = (ROOT / "events" / "issuer.user-token.json").read_bytes()
    with open(os.devnull, "w") as sink, LocalDeployment(log=sink, warm=False) as stack:
        assert stack.emulator is not None
        client = stack.lambda_client(max_pool_connections=concurrency * 2)

        def one(_: int) -> bool:
            return "access_token" in json.loads(client.invoke(FunctionName="IssuerFunction", Payload=request)["Payload"].read())

        with ThreadPoolExecutor(concurrency) as pool:
            ok = sum(pool.map(one, range(requests_total)))
        rss = max(_peak_rss_mb(sandbox.process.pid) for sandbox in stack.emulator.pools["IssuerFunction"].idle)
    return {"peak_rss_mb": round(rss, 1)}, {
        "peak_rss_mb": {
            "what": f"VmHWM of the issuer's sandbox after {requests_total} tokens (2 workflows each), concurrency {concurrency}",
            "tokens_ok": ok,
        }
    }


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
