"""Cold starts of what deploys: the BUILT issuer and workflows (``.aws-sam/build``, as ``sam
build`` made them), each in a fresh Python 3.12 interpreter with Lambda's read-only code
directories (no bytecode written), boto3 where Lambda's runtime has it, and SSM on loopback.

Each figure is CPU time inside the process (``time.process_time``), from the first import to
the first reply, divided by the CPU time of importing what that reply needed besides
claimflow (measured in the same way, in the same run): what claimflow's own code and first
invocation add to what any Python Lambda with those dependencies pays. Interpreter start-up
is outside both. The issuer's baseline is the one the issue fixed: ``import jwt, boto3,
cryptography`` and a PyJWK parse of the same key.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from claimflow_local.stack.deployment import sam_build

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".aws-sam" / "build"
LAMBDA_RUNTIME = ROOT / ".lambda-runtime" / "python3.12"
EVENTS = ROOT / "events"
Result = tuple[dict[str, Any], dict[str, dict[str, Any]]]

_MEASURE = """
import json, sys, time
before = set(sys.modules)
started = time.process_time()
{body}
elapsed = time.process_time() - started
loaded = [name for name in sys.modules if name not in before and name.split(".")[0] not in ("claimflow", "app")]
print(json.dumps({{"cpu_ms": elapsed * 1000, "loaded": loaded, "boto3": "boto3" in sys.modules,
                  "xray": "aws_xray_sdk" in sys.modules}}))
"""


def _python() -> str:
    from claimflow_local.emulator import sandbox  # the interpreter sandboxes run

    interpreter = getattr(sandbox, "runtime_interpreter", None) or sandbox._interpreter  # its name before this round
    return str(interpreter("python3.12"))


def _run(code: str, *, function: str, env: dict[str, str], runs: int = 7) -> tuple[float, dict[str, Any]]:
    """Median CPU ms over ``runs`` fresh interpreters, and the last run's report."""
    layer = str(BUILD / "ClaimflowLayer" / "python")
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(BUILD / function), layer, str(LAMBDA_RUNTIME)]),
        "PYTHONDONTWRITEBYTECODE": "1",  # /var/task and /opt are read-only in Lambda
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "AWS_ACCESS_KEY_ID": "AKIDBENCH",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_REGION": "us-east-1",  # what Lambda sets (boto3 reads AWS_DEFAULT_REGION)
        "AWS_DEFAULT_REGION": "us-east-1",
        **env,
    }
    script = _MEASURE.format(body=code)
    reports = []
    for _ in range(runs):
        out = subprocess.run([_python(), "-c", script], env=environment, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"cold run of {function} failed:\n{out.stderr[-3000:]}")
        reports.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return statistics.median(r["cpu_ms"] for r in reports), reports[-1]


def _first_reply(event: Path, *, expect: str) -> str:
    return (
        f"import app\nreply = app.lambda_handler(json.loads({event.read_text()!r}), None)\n"
        f"assert {expect!r} in json.dumps(reply), reply"
    )


def cold_starts(ssm: Any, stub: Any) -> Result:
    from claimflow.environment import SsmPaths
    from claimflow.infra.ssm import SsmParameterStore
    from claimflow.keys.keyset import KeySet
    from claimflow.keys.manager import KeyManager

    sam_build(ROOT)
    client = ssm.client()
    keys = KeyManager(SsmParameterStore(client=client, max_age=0), SsmPaths(stage="bench"))
    keys.init(alg="RS256", force=True)
    client.put_parameter(Name="/claimflow/bench/env/API_KEY", Value="bench-api-key", Type="SecureString", Overwrite=True)
    stub.configure(api_key="bench-api-key")
    common = {
        "CLAIMFLOW_SSM_ENDPOINT": ssm.url,
        "CLAIMFLOW_STAGE": "bench",
        "CLAIMFLOW_LOCAL_MODE": "1",
        "API_BASE_URL": stub.url,
    }
    numbers: dict[str, Any] = {}
    details: dict[str, dict[str, Any]] = {}

    # The issuer: import, then the first token (key set read from SSM, parsed, signed).
    issuer_env = {**common, "CLAIMFLOW_ISSUER_URL": "https://issuer.bench", "CLAIMFLOW_WORKFLOWS": "[]"}
    issuer_ms, issuer_report = _run(
        _first_reply(EVENTS / "issuer.user-token.json", expect="access_token"), function="IssuerFunction", env=issuer_env
    )
    traced = {
        **issuer_env,
        "CLAIMFLOW_TRACING": "Active",
        "AWS_LAMBDA_FUNCTION_NAME": "claimflow-bench-issuer",  # as in Lambda, where the X-Ray SDK finds its segment
        "LAMBDA_TASK_ROOT": "/var/task",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    }
    first_token = _first_reply(EVENTS / "issuer.user-token.json", expect="access_token")
    traced_ms, traced_report = _run(first_token, function="IssuerFunction", env=traced)
    untraced_ms, untraced_report = _run(
        first_token, function="IssuerFunction", env={**traced, "CLAIMFLOW_TRACING": "PassThrough"}
    )
    numbers["tracer_cold_start_ms"] = round(traced_ms - untraced_ms, 1)
    details["tracer_cold_start_ms"] = {
        "what": "CPU the built issuer's import + first token costs more with TracingMode=Active (X-Ray SDK, "
        "Powertools Tracer, spans) than with PassThrough, in the same run",
        "active_ms": round(traced_ms, 1),
        "inactive_ms": round(untraced_ms, 1),
        "xray_sdk_imported_when_active": traced_report["xray"],
        "xray_sdk_imported_when_inactive": untraced_report["xray"],
    }
    numbers["xray_sdk_imported_when_tracing_is_off"] = untraced_report["xray"]
    details["xray_sdk_imported_when_tracing_is_off"] = {
        "what": "aws_xray_sdk in sys.modules after a PassThrough issuer's first token",
        "target": False,
    }
    keyset = KeySet.from_json(client.get_parameter(Name=keys.paths.signing_keyset, WithDecryption=True)["Parameter"]["Value"])
    baseline_code = f"import jwt, boto3, cryptography\njwt.PyJWK({dict(keyset.active.jwk)!r}, algorithm='RS256')"
    issuer_base_ms, _ = _run(baseline_code, function="IssuerFunction", env=issuer_env)
    numbers["cold_issuer_first_token_ratio"] = round(issuer_ms / issuer_base_ms, 3)
    details["cold_issuer_first_token_ratio"] = {
        "what": "CPU of a fresh process running the built issuer: import + first token, the key set read from SSM",
        "cpu_ms": round(issuer_ms, 1),
        "baseline": "import jwt, boto3, cryptography + PyJWK parse of the same key (full validation)",
        "baseline_ms": round(issuer_base_ms, 1),
        "third_party_loaded": sorted(_third_party(issuer_report["loaded"])),
        "target": 1.2,
        "higher_is_better": False,
    }

    # Each seed workflow: import, then its first invocation (fetch to the stand-in; SSM for the env one).
    worst = 0.0
    for function, event in (
        ("AddThirdPartyDataToAccessTokenFunction", "workflow.addThirdPartyDataToAccessToken.json"),
        ("AddThirdPartyDataUsingEnvsFunction", "workflow.addThirdPartyDataUsingEnvs.json"),
    ):
        workflow_ms, report = _run(_first_reply(EVENTS / event, expect='"outcome": "ok"'), function=function, env=common)
        deps = report["loaded"]  # every module it loaded that is not claimflow's: third-party and standard library
        base_ms, _ = _run(
            f"import importlib\nfor name in {deps!r}:\n    try:\n        importlib.import_module(name)\n"
            "    except ImportError:\n        pass  # a name a package registers for itself (an alias), not a file",
            function=function,
            env=common,
        )
        ratio = workflow_ms / base_ms
        worst = max(worst, ratio)
        key = f"cold_workflow_first_invoke_ratio_{function.removesuffix('Function')}"
        numbers[key] = round(ratio, 3)
        details[key] = {
            "what": f"CPU of a fresh process running the built {function}: import + first invocation",
            "cpu_ms": round(workflow_ms, 1),
            "baseline": f"importing exactly the {len(deps)} modules other than claimflow's own that the invocation loaded, "
            f"in its order (third-party: {', '.join(sorted(_third_party(deps)))})",
            "baseline_ms": round(base_ms, 1),
            "boto3_loaded": report["boto3"],
            "target": 1.2,
            "higher_is_better": False,
        }
        if function.startswith("AddThirdPartyDataToAccessToken"):
            numbers["boto3_imported_without_env"] = report["boto3"]
            details["boto3_imported_without_env"] = {
                "what": "boto3 in sys.modules after the built workflow that binds no kinde.env imported and ran once",
                "target": False,
            }
    numbers["cold_workflow_first_invoke_ratio"] = round(worst, 3)
    details["cold_workflow_first_invoke_ratio"] = {
        "what": "the worse of the two seed workflows' cold ratios (each detailed under its own key)",
        "target": 1.2,
        "higher_is_better": False,
    }
    stub.configure(api_key=None)
    numbers.update(_layer_size())
    details["layer_unzipped_mb"] = {"what": "the built layer on disk (bytecode included)"}
    details["layer_zipped_mb"] = {"what": "the built layer zipped (deflate), as sam deploy uploads it"}
    return numbers, details


def _third_party(modules: list[str]) -> set[str]:
    import sys

    return {name.split(".")[0] for name in modules if name.split(".")[0] not in sys.stdlib_module_names}


def _layer_size() -> dict[str, float]:
    import io

    layer = BUILD / "ClaimflowLayer"
    files = [p for p in layer.rglob("*") if p.is_file()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(layer))
    return {
        "layer_unzipped_mb": round(sum(p.stat().st_size for p in files) / 2**20, 2),
        "layer_zipped_mb": round(buffer.tell() / 2**20, 2),
    }
