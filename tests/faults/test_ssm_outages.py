"""SSM down for longer than MaxStaleSeconds, through a whole local stack (the emulator, moto's
SSM behind a proxy that stops answering, the third-party stand-in): the warm issuer and the env
workflow keep answering from their caches for the cache TTL plus MaxStaleSeconds, then every
token request is refused as temporarily_unavailable, never a token signed from a key set older
than the bound; once SSM answers again, tokens are issued again."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from claimflow_local.stack.deployment import LocalDeployment
from tests.faults.proxy import SwitchableProxy
from tests.support import ROOT, record_figure, sample

TTL_S = 1  # the key set's and the env variables' cache TTL
MAX_STALE_S = 2
BOUND_S = TTL_S + MAX_STALE_S  # the oldest cached secret a function may use, from its last read


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalDeployment]:
    with open(os.devnull, "w") as sink, LocalDeployment(root=ROOT, log=sink) as running:
        yield running


def issue(lam: Any) -> dict[str, Any]:
    response = lam.invoke(FunctionName="IssuerFunction", Payload=json.dumps(sample("issuer.user-token.json")).encode())
    assert "FunctionError" not in response
    reply: dict[str, Any] = json.loads(response["Payload"].read())
    return reply


def test_ssm_down_for_longer_than_max_stale_seconds_refuses_tokens_then_recovers(stack: LocalDeployment) -> None:
    assert stack.emulator is not None and stack.ssm is not None
    proxy = SwitchableProxy(stack.ssm.url)
    functions = ("IssuerFunction", "AddThirdPartyDataUsingEnvsFunction")
    for function in functions:
        stack.emulator.override_environment(
            function,
            AWS_ENDPOINT_URL_SSM=proxy.url,
            CLAIMFLOW_KEYSET_TTL_SECONDS=str(TTL_S),
            CLAIMFLOW_ENV_TTL_SECONDS=str(TTL_S),
            CLAIMFLOW_MAX_STALE_SECONDS=str(MAX_STALE_S),
        )
    lam = stack.lambda_client()
    try:
        for _ in range(3):
            reply = issue(lam)
            assert "access_token" in reply, reply  # warm: key set and API_KEY cached
        proxy.stall()
        stalled = time.monotonic()
        answers: list[tuple[float, str]] = []  # (seconds after the stall the request was sent, answer)
        while time.monotonic() - stalled < BOUND_S + 6 and sum(1 for _, a in answers if a != "token") < 3:
            sent = time.monotonic() - stalled
            reply = issue(lam)
            answers.append((sent, "token" if "access_token" in reply else str(reply.get("error"))))
            time.sleep(0.1)
        late_tokens = [sent for sent, answer in answers if answer == "token" and sent > BOUND_S]
        refusals = [(sent, answer) for sent, answer in answers if answer != "token"]
        record_figure(
            "ssm_down_past_max_stale",
            {
                "ttl_s": TTL_S,
                "max_stale_s": MAX_STALE_S,
                "tokens_while_stale": sum(1 for _, a in answers if a == "token"),
                "last_token_after_s": round(max((s for s, a in answers if a == "token"), default=0.0), 2),
                "first_refusal_after_s": round(refusals[0][0], 2) if refusals else None,
                "late_tokens": len(late_tokens),
            },
        )
        assert late_tokens == [], f"tokens signed from a key set older than the bound: {answers}"
        assert answers[0][1] == "token", answers  # served stale at first
        assert refusals and {answer for _, answer in refusals} == {"temporarily_unavailable"}, answers
        proxy.resume()
        resumed = time.monotonic()
        # Reads still in flight end (SSM's read timeout, 2 s, twice), then a back-off of at most the TTL.
        while "access_token" not in (recovered := issue(lam)) and time.monotonic() - resumed < 15:
            time.sleep(0.2)
        assert "access_token" in recovered, recovered
    finally:
        proxy.close()
        for function in functions:
            stack.emulator.override_environment(
                function,
                AWS_ENDPOINT_URL_SSM=stack.ssm.url,
                CLAIMFLOW_KEYSET_TTL_SECONDS=None,
                CLAIMFLOW_ENV_TTL_SECONDS=None,
                CLAIMFLOW_MAX_STALE_SECONDS=None,
            )
