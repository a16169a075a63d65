"""The claims hooks over real HTTP, at the issuer's URL the emulator serves from the built
artifacts: each stack's call as that stack sends it (Ory Hydra's API key, Zitadel's and the
generic hook's HMAC signatures), the seed workflows running through the registry's aliases,
and a caller without the secret refused before anything runs."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from claimflow.issuer.hooks.authentication import sign_body
from claimflow_local.stack.deployment import LocalDeployment
from tests.support import ROOT, sample

SECRETS = {
    name: hook["secret"]
    for name, hook in json.loads((ROOT / "local" / "settings.json").read_text())["hooks"].items()
    if "secret" in hook
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalDeployment]:
    with open(os.devnull, "w") as sink, LocalDeployment(root=ROOT, log=sink) as running:
        yield running


def post(stack: LocalDeployment, route: str, body: Any, headers: dict[str, str]) -> requests.Response:
    return requests.post(f"{stack.hooks_url}/hooks/{route}", data=json.dumps(body), headers=headers, timeout=30)


def test_hydra_with_its_api_key_gets_the_seed_workflows_claims(stack: LocalDeployment) -> None:
    body = json.loads(sample("hooks.hydra-token-hook.json")["body"])
    answer = post(stack, "hydra", body, {"X-API-Key": SECRETS["hydra"], "Content-Type": "application/json"})
    assert answer.status_code == 200
    assert answer.json() == {"session": {"access_token": {"lifetime_subscriber": True}, "id_token": {}}}
    assert answer.headers["Cache-Control"] == "no-store"


def test_zitadel_signed_now_gets_append_claims(stack: LocalDeployment) -> None:
    body = json.loads(sample("hooks.zitadel-preaccesstoken.json")["body"])
    raw = json.dumps(body).encode()
    answer = requests.post(
        f"{stack.hooks_url}/hooks/zitadel",
        data=raw,
        headers={"ZITADEL-Signature": sign_body(SECRETS["zitadel"], raw, now=int(time.time()))},
        timeout=30,
    )
    assert (answer.status_code, answer.json()) == (200, {"append_claims": [{"key": "lifetime_subscriber", "value": True}]})


def test_the_generic_hook_denies_as_the_m2m_workflow_says(stack: LocalDeployment) -> None:
    request = {**sample("issuer.m2m-token.json"), "client_id": "m2m_unknown", "correlation_id": "hook-test-1"}
    raw = json.dumps(request).encode()
    answer = requests.post(
        f"{stack.hooks_url}/hooks/generic",
        data=raw,
        headers={"X-Claimflow-Signature": sign_body(SECRETS["generic"], raw, now=int(time.time()))},
        timeout=30,
    )
    assert answer.status_code == 403
    assert answer.json() == {
        "error": "access_denied",
        "error_description": "client m2m_unknown is not registered with an organization",
    }


@pytest.mark.parametrize("route", ["hydra", "zitadel", "generic"])
def test_a_caller_without_the_secret_gets_401_json(stack: LocalDeployment, route: str) -> None:
    answer = post(stack, route, {"anything": 1}, {"X-API-Key": "not-it", "X-Claimflow-Signature": "t=1,v1=00"})
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


def signed_generic(stack: LocalDeployment, raw: bytes, *, at: int) -> requests.Response:
    header = {"X-Claimflow-Signature": sign_body(SECRETS["generic"], raw, now=at), "Content-Type": "application/json"}
    return requests.post(f"{stack.hooks_url}/hooks/generic", data=raw, headers=header, timeout=30)


@pytest.mark.parametrize("stamp", ["²", "9" * 400, "1" * 5000], ids=["superscript", "400 digits", "5000 digits"])
def test_a_malformed_timestamp_is_a_bare_401_json_not_a_502(stack: LocalDeployment, stamp: str) -> None:
    headers = {"X-Claimflow-Signature": f"t={stamp},v1={'0' * 64}"}
    answer = requests.post(f"{stack.hooks_url}/hooks/generic", data=b"{}", headers=headers, timeout=30)
    assert (answer.status_code, answer.json()) == (401, {"error": "invalid_client"})


def test_a_call_signed_a_minute_ahead_is_refused(stack: LocalDeployment) -> None:
    raw = json.dumps({**sample("issuer.user-token.json"), "correlation_id": f"ahead-{time.time_ns()}"}).encode()
    answer = signed_generic(stack, raw, at=int(time.time()) + 60)
    assert (answer.status_code, answer.json()) == (401, {"error": "invalid_client"})


def test_nothing_is_disclosed_before_authentication(stack: LocalDeployment) -> None:
    unknown = requests.post(f"{stack.hooks_url}/hooks/nosuchstack", data=b"{}", timeout=30)
    assert (unknown.status_code, unknown.json()) == (404, {"error": "not_found"})  # no list of enabled hooks
    stale = signed_generic(stack, b"{}", at=int(time.time()) - 1000)
    assert (stale.status_code, stale.json()) == (401, {"error": "invalid_client"})  # no offset from the server clock


def test_an_authenticated_body_nested_100000_deep_is_400_invalid_request(stack: LocalDeployment) -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    answer = signed_generic(stack, raw, at=int(time.time()))
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request")
