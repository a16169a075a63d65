"""An OpenID provider nobody here wrote (node-oidc-provider 8, examples/oidc_provider) signs
tokens that carry claimflow's workflows' claims through the generic claims hook, and an RP
nobody here wrote (openid-client 6) proves it: a full authorization-code flow with PKCE, the
access and ID tokens verified with jose against the provider's JWKS; client credentials for a
client the directory knows (org_code) and one it does not (the workflow's deny_access becomes
the provider's access_denied). The hook's latency is measured against the same provider
without it, in the same run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from claimflow_local.stack.deployment import LocalDeployment
from tests.support import ROOT, npm_installed, record_figure

PROVIDER_DIR = ROOT / "examples" / "oidc_provider"
SUBSCRIBER = "kp_6a0713b9e5d14c3e9a2f0c4d8b7e1f21"
RESOURCE = "https://api.example.com/v1"
REDIRECT_URI = "http://127.0.0.1:8080/cb"


@pytest.fixture(scope="module")
def provider_packages() -> Path:
    return npm_installed(PROVIDER_DIR)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_provider(hook_url: str, secret: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    environment = {
        **os.environ,
        "PORT": str(port),
        "CLAIMFLOW_HOOK_URL": hook_url,
        "CLAIMFLOW_HOOK_SECRET": secret,
        "REDIRECT_URI": REDIRECT_URI,
        "RESOURCE": RESOURCE,
    }
    process = subprocess.Popen(
        ["node", "provider.mjs"], cwd=PROVIDER_DIR, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening" in line, line + (process.stderr.read() if process.poll() is not None and process.stderr else "")
    return process, json.loads(line)["listening"]


@pytest.fixture(scope="module")
def flow(provider_packages: Path) -> dict[str, Any]:
    clients = npm_installed(ROOT / "tests" / "interop")
    settings = json.loads((ROOT / "local" / "settings.json").read_text())
    with open(os.devnull, "w") as sink, LocalDeployment(root=ROOT, log=sink) as stack:
        hooked, hooked_url = start_provider(f"{stack.hooks_url}/hooks/generic", settings["hooks"]["generic"]["secret"])
        plain, plain_url = start_provider("", "")
        try:
            run = subprocess.run(
                ["node", "oidc_provider_flow.mjs"],
                cwd=clients,
                env={
                    **os.environ,
                    "PROVIDER": hooked_url,
                    "PLAIN_PROVIDER": plain_url,
                    "REDIRECT_URI": REDIRECT_URI,
                    "SUBJECT": SUBSCRIBER,
                    "RESOURCE": RESOURCE,
                },
                capture_output=True,
                text=True,
                timeout=240,
            )
        finally:
            for process in (hooked, plain):
                process.terminate()
                process.wait(timeout=10)
    assert run.returncode == 0, run.stdout + run.stderr
    answer: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return answer


def test_authorization_code_with_pkce_gives_tokens_carrying_the_seed_workflows_claims(flow: dict[str, Any]) -> None:
    access, id_token = flow["code"]["access"], flow["code"]["id"]
    assert access["lifetime_subscriber"] is True and access["sub"] == SUBSCRIBER and access["aud"] == RESOURCE
    assert id_token["lifetime_subscriber"] is True and id_token["sub"] == SUBSCRIBER


def test_client_credentials_carry_the_m2m_workflows_org_code(flow: dict[str, Any]) -> None:
    assert flow["known"]["ok"] is True
    assert flow["known"]["claims"]["org_code"] == "org_b5a9c8d7e6f5"
    assert flow["known"]["claims"]["client_id"] == "m2m_3c9e2a7f41d8"


def test_a_workflows_deny_access_is_an_oauth_error_at_the_provider(flow: dict[str, Any]) -> None:
    assert flow["unknown"]["ok"] is False
    assert flow["unknown"]["error"] == "access_denied"
    assert "m2m_unknown is not registered with an organization" in flow["unknown"]["description"]


def test_the_hooks_latency_at_the_providers_token_endpoint_is_measured(flow: dict[str, Any]) -> None:
    latency = flow["latency_ms"]
    record_figure("claims hook latency at the token endpoint (ms p50)", latency)
    assert latency["with_hook_p50"] > latency["without_hook_p50"] > 0
