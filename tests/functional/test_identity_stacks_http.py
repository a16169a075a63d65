"""Okta, Microsoft Entra ID and Supabase at the issuer's URL over real HTTP, the emulator serving
the built artifacts: each sample as its stack sends it, signed now by the stack's own scheme
(Okta's header secret; a bearer JWT from the Entra stand-in's key, checked against the JWKS the
stack serves on loopback; Standard Webhooks signatures made with its library), gets the seed
workflows' claims in its stack's shape; an unauthenticated, stale, tampered or wrong-audience
call is a 401 that runs no workflow (the third-party stand-in sees no request). The Entra keys
client against loopback JWKS servers: one deadline for the whole fetch, a size cap, the egress
guard, and tokens signed by an independent library (joserfc)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import RSAKey

from claimflow.errors import EgressDeniedError, FetchError
from claimflow.infra.guarded_http_client import RequestsHttpClient
from claimflow.issuer.config import IssuerConfig
from claimflow.issuer.hooks.entra import ENTRA_CALLER_APP_ID, EntraCustomClaimsProvider, EntraSigningKeys
from claimflow.issuer.hooks.roster import HTTP_HOOKS, http_hook
from claimflow.issuer.hooks.supabase import SUPABASE_LOCKED_CLAIMS
from claimflow_local.cli import main as cli
from claimflow_local.cli.demo import hook_urls
from claimflow_local.hook_callers import CALLERS, caller_headers, entra_token, send, signed_event
from claimflow_local.loopback import LoopbackHandler, LoopbackServer
from claimflow_local.stack.deployment import LocalDeployment
from tests.support import ROOT, hook_claims, sample, subscriber_claim

SAMPLES = {route: spec.sample.removeprefix("events/") for route, spec in HTTP_HOOKS.items() if spec.sample}
NEW_STACKS = ("okta", "entra", "supabase")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalDeployment]:
    with open(os.devnull, "w") as sink, LocalDeployment(root=ROOT, log=sink) as running:
        yield running


def test_every_rostered_stack_has_a_caller_and_its_sample_calls_its_route() -> None:
    assert set(CALLERS) == set(HTTP_HOOKS)
    for route in NEW_STACKS:
        assert sample(SAMPLES[route])["rawPath"] == f"/hooks/{route}"


def test_make_devs_banner_lists_every_rostered_hook_url_the_stack_answers() -> None:
    settings = json.loads((ROOT / "local" / "settings.json").read_text())
    banner = hook_urls("http://127.0.0.1:3006", settings["hooks"])
    assert [line.split()[0] for line in banner.splitlines()] == [f"http://127.0.0.1:3006/hooks/{route}" for route in HTTP_HOOKS]


@pytest.mark.parametrize("route", NEW_STACKS)
def test_each_stacks_sample_signed_now_gets_the_seed_workflows_claims_in_its_shape(stack: LocalDeployment, route: str) -> None:
    event = sample(SAMPLES[route])
    status, answer = send(signed_event(event, stack.settings), stack.hooks_url)
    assert status == 200, answer
    claims = hook_claims(route, answer)
    assert subscriber_claim(route).items() <= claims.items()
    if route == "supabase":  # the whole claims object: Supabase's own come back as they were
        sent = json.loads(event["body"])["claims"]
        assert {k: claims[k] for k in sent if k in SUPABASE_LOCKED_CLAIMS} == {
            k: v for k, v in sent.items() if k in SUPABASE_LOCKED_CLAIMS
        }
    if route == "entra":
        assert all(isinstance(value, str | list) for value in claims.values())


def _entra(stack: LocalDeployment) -> dict[str, Any]:
    entry: dict[str, Any] = stack.settings["hooks"]["entra"]
    return entry


def _other_key_with_the_same_kid(stack: LocalDeployment) -> dict[str, Any]:
    key = RSAKey.generate_key(2048, private=True).as_dict(private=True)
    return {**_entra(stack), "caller_key": {**key, "kid": _entra(stack)["caller_key"]["kid"]}}


REFUSED = {
    ("okta", "no secret"): lambda stack, body: {},
    ("okta", "a wrong secret"): lambda stack, body: {"authorization": "demo-okta-hook-secret-guess"},
    ("entra", "no token"): lambda stack, body: {"authorization": "Bearer"},
    ("entra", "an expired token"): lambda stack, body: {
        "authorization": f"Bearer {entra_token(_entra(stack), now=time.time() - 7200)}"
    },
    ("entra", "a token for another app"): lambda stack, body: {
        "authorization": f"Bearer {entra_token(_entra(stack), now=time.time(), aud='another-app')}"
    },
    ("entra", "a token from another caller"): lambda stack, body: {
        "authorization": f"Bearer {entra_token(_entra(stack), now=time.time(), azp='11111111-2222-3333-4444-555555555555')}"
    },
    ("entra", "a token signed by another key"): lambda stack, body: {
        "authorization": f"Bearer {entra_token(_other_key_with_the_same_kid(stack), now=time.time())}"
    },
    ("supabase", "no signature"): lambda stack, body: {},
    ("supabase", "a stale signature"): lambda stack, body: caller_headers(
        "supabase", stack.settings, body, now=time.time() - 600
    ),
    ("supabase", "a tampered body"): lambda stack, body: caller_headers(
        "supabase", stack.settings, body.replace(b"8ccaa7af", b"00000000")
    ),
}


@pytest.mark.parametrize(("route", "case"), sorted(REFUSED), ids=[f"{r}: {c}" for r, c in sorted(REFUSED)])
def test_a_call_not_proven_by_its_stack_is_401_and_runs_no_workflow(stack: LocalDeployment, route: str, case: str) -> None:
    assert stack.third_party is not None
    event = sample(SAMPLES[route])
    headers = REFUSED[(route, case)](stack, event["body"].encode())
    unsigned = {k: v for k, v in event["headers"].items() if k.lower() not in {"authorization"} and not k.startswith("webhook-")}
    before = stack.third_party.requests
    status, answer = send({**event, "headers": {**unsigned, **headers}}, stack.hooks_url)
    assert (status, answer["error"]) == (401, "invalid_client")
    assert stack.third_party.requests == before  # the seed workflows fetch the third party on every run


@pytest.mark.parametrize("route", ["zitadel", *NEW_STACKS])
def test_preview_shows_each_stacks_sample_answered_with_the_claims(capsys: pytest.CaptureFixture[str], route: str) -> None:
    status = cli(["preview", "--event", str(ROOT / "events" / SAMPLES[route])])
    out = capsys.readouterr().out
    assert status == 0, out
    answered = next(line for line in out.splitlines() if " gets HTTP " in line)
    assert answered.startswith(f"{http_hook(route, IssuerConfig(issuer_url='https://x')).name} gets HTTP 200: ")
    assert "lifetime_subscriber" in answered


# --- Entra's keys client against loopback JWKS servers ------------------------------------------


class JwksServer:
    """A loopback JWKS: the keys given, or a body dripped a byte at a time, or an oversized one."""

    def __init__(self, body: bytes, *, drip_s: float = 0.0) -> None:
        served = threading.Event()

        class Handler(LoopbackHandler):
            def do_GET(self) -> None:
                served.set()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for i in range(len(body)) if drip_s else ():
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(drip_s)
                if not drip_s:
                    self.wfile.write(body)

        self.served = served
        self._server = LoopbackServer(Handler).start("jwks-test")
        self.url = f"{self._server.base_url}/discovery/v2.0/keys"

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, private=True, parameters={"kid": "jose-1", "use": "sig"})


def test_a_token_signed_with_joserfc_verifies_against_a_loopback_jwks(signing_key: RSAKey) -> None:
    server = JwksServer(json.dumps({"keys": [signing_key.as_dict(private=False)]}).encode())
    try:
        now = int(time.time())
        claims = {"iss": "https://login.microsoftonline.com/t1/v2.0", "aud": "app-1", "azp": ENTRA_CALLER_APP_ID, "tid": "t1"}
        token = jose_jwt.encode(
            {"alg": "RS256", "kid": "jose-1"}, {**claims, "iat": now, "nbf": now, "exp": now + 600}, signing_key
        )
        hook = EntraCustomClaimsProvider(
            domain="https://issuer.test", keys=EntraSigningKeys(http=RequestsHttpClient(allow_private=True))
        )
        config = json.dumps({"tenant_id": "t1", "app_id": "app-1", "jwks_url": server.url})
        hook.authentication.verify(config, {"Authorization": f"Bearer {token}"}, b"{}")
    finally:
        server.stop()


def test_a_jwks_that_drips_is_given_up_within_one_deadline_for_the_whole_fetch(signing_key: RSAKey) -> None:
    server = JwksServer(json.dumps({"keys": [signing_key.as_dict(private=False)]}).encode(), drip_s=0.05)  # ~30 s in all
    keys = EntraSigningKeys(http=RequestsHttpClient(allow_private=True), fetch_timeout_s=0.5)
    try:
        started = time.monotonic()
        with pytest.raises(FetchError, match="timed out") as failed:
            keys.key(server.url, "jose-1")
        assert time.monotonic() - started < 2.0 and server.served.is_set()  # headers came at once; the body never finished
        assert failed.value.error_code == "temporarily_unavailable"
    finally:
        server.stop()


def test_an_oversized_jwks_is_refused_and_outside_local_mode_so_is_a_loopback_one(signing_key: RSAKey) -> None:
    padded = json.dumps({"keys": [signing_key.as_dict(private=False)], "pad": "x" * 100_000}).encode()
    server = JwksServer(padded)
    try:
        with pytest.raises(FetchError, match="byte cap"):
            EntraSigningKeys(http=RequestsHttpClient(allow_private=True)).key(server.url, "jose-1")
        with pytest.raises(EgressDeniedError):
            EntraSigningKeys(http=RequestsHttpClient(allow_private=False)).key(server.url, "jose-1")
    finally:
        server.stop()


def test_the_documented_signing_command_prints_the_sample_signed_now() -> None:
    """As docs/identity-stacks.md prints it (``PYTHONPATH=layers/claimflow:tools .venv/bin/python -m ...``)."""
    import subprocess
    from datetime import UTC, datetime

    from standardwebhooks import Webhook

    run = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            "-m",
            "claimflow_local.hook_callers",
            "events/hooks.supabase-custom-access-token.json",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": "layers/claimflow:tools"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    signed = json.loads(run.stdout)
    secret = json.loads((ROOT / "local" / "settings.json").read_text())["hooks"]["supabase"]["secret"]
    Webhook(secret.removeprefix("v1,")).verify(signed["body"], signed["headers"])  # raises unless signed, and lately
    assert abs(int(signed["headers"]["webhook-timestamp"]) - datetime.now(tz=UTC).timestamp()) < 60


def test_the_docs_page_cites_each_stacks_published_documentation() -> None:
    for route, spec in HTTP_HOOKS.items():
        if spec.docs.startswith("https://") and route in NEW_STACKS:
            page = (ROOT / "docs" / "identity-stacks" / f"{route}.md").read_text()
            assert spec.docs in page, f"docs/identity-stacks/{route}.md does not cite {spec.docs} for /hooks/{route}"
    assert all(f"`{route}`" in (ROOT / "docs" / "identity-stacks" / "index.md").read_text() for route in NEW_STACKS)
