"""A rotation cycle under an SSM outage: an issuer whose SSM stops answering (a stalled proxy in
front of moto) just before a next key is published, and stays cut off while that key is
promoted and its predecessor retired (a KMS key scheduled for deletion). Every token it issues
verifies against the JWKS published at that moment and until it expires, or it issues none
(temporarily_unavailable) once its key set is older than the grace window; with SSM back it
signs with the new key. Both key stores; MaxStaleSeconds set to 30 days so the grace window,
not MaxStaleSeconds, is what stops it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from claimflow.environment import SsmPaths
from claimflow.infra.kms_api import KmsApi
from claimflow.infra.ssm import SsmParameterStore
from claimflow.infra.ssm_api import SsmApi
from claimflow.issuer import InProcessWorkflowInvoker, IssuerConfig, TokenIssuer, WorkflowRegistry
from claimflow.issuer.app import handle
from claimflow.keys import KeyProvider
from claimflow.keys.kms_keys import KmsKeys
from claimflow.keys.manager import DEFAULT_GRACE_SECONDS, KeyManager, KeySource, LocalKeys, RotationPolicy
from claimflow.tokens import TokenKind
from claimflow_local.stack.ssm import EmbeddedSsm
from tests.faults.proxy import SwitchableProxy
from tests.support import record_figure, sample

HOUR, DAY = 3600, 86400
LIFETIME = HOUR
POLICY = RotationPolicy(grace_seconds=DEFAULT_GRACE_SECONDS, retire_after_seconds=LIFETIME + 300)  # the rotation's defaults
#: (step, seconds after SSM stopped answering, what the issuer must answer)
STEPS = [
    ("SSM stops answering", 0, "token"),
    ("+1 min: the active key's period ends, next key published", 60, "token"),
    ("+1 h: still waiting (caches)", HOUR, "token"),
    ("+2 h 16 min: next key promoted", DEFAULT_GRACE_SECONDS + 60, "token"),  # the old key, now previous, still published
    ("+2 h 45 min: key set older than the grace window", DEFAULT_GRACE_SECONDS + 30 * 60, "temporarily_unavailable"),
    ("+3 h 21 min: old key retired", DEFAULT_GRACE_SECONDS + LIFETIME + 300 + 60, "temporarily_unavailable"),
]


class Clock:
    """The issuer's cache and claims run on it; it starts at the wall clock's time."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def proxy(embedded_ssm: EmbeddedSsm) -> Iterator[SwitchableProxy]:
    switchable = SwitchableProxy(embedded_ssm.url)
    yield switchable
    switchable.close()


def verifies(token: str, jwks: jwt.PyJWKSet, now: float) -> bool:
    kid = jwt.get_unverified_header(token)["kid"]
    key = next((k for k in jwks.keys if k.key_id == kid), None)
    if key is None:
        return False
    options = {"verify_exp": False, "verify_iat": False}
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="https://api.example.com/v1", options=options)
    return bool(claims["exp"] > now)


@pytest.mark.parametrize("mode", ["ssm", "kms"])
def test_every_token_issued_through_a_rotation_under_an_ssm_outage_verifies_or_none_is_issued(
    mode: str, embedded_ssm: EmbeddedSsm, ssm: Any, proxy: SwitchableProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("CLAIMFLOW_MAX_STALE_SECONDS", str(30 * DAY))  # what MaxStaleSeconds sets
    paths = SsmPaths(stage=f"outage-{mode}")
    kms = KmsApi(endpoint=embedded_ssm.url)
    keys: KeySource = KmsKeys(kms, stage=paths.stage, account="arn:aws:iam::123456789012:root") if mode == "kms" else LocalKeys()
    rotation = KeyManager(SsmParameterStore(client=ssm, max_age=0), paths, keys=keys)  # reaches SSM throughout
    t0 = int(time.time())
    clock = Clock(t0)
    # The issuer's SSM goes through the proxy; its cache runs on the test's clock. The key provider
    # keeps the wall clock: with no successor pending when it last read the key set (none is, at
    # t0), the window it allows depends only on the key set's age, which the cache's clock measures.
    store = SsmParameterStore(client=SsmApi(endpoint=proxy.url, read_timeout=0.5), max_age=300, clock=clock)
    issuer = TokenIssuer(
        config=IssuerConfig(issuer_url="https://issuer.test", lifetimes={TokenKind.ACCESS: LIFETIME}),
        registry=WorkflowRegistry([]),
        invoker=InProcessWorkflowInvoker({}),
        keys=KeyProvider(store, paths.signing_keyset, kms=lambda: kms),
        clock=clock,
    )
    request = {**sample("issuer.user-token.json"), "scope": []}
    rotation.init(alg="RS256", now=t0 - 30 * DAY + 60)  # its period ends a minute into the outage
    first = rotation.load()
    assert first is not None
    assert "access_token" in handle(issuer, request)  # warm: the key set is cached
    proxy.stall()
    issued: list[tuple[str, float]] = []
    rows = []
    for label, offset, expected in STEPS:
        clock.now = t0 + offset
        _, actions = rotation.advance(now=int(clock.now), policy=POLICY)
        jwks = jwt.PyJWKSet.from_dict(json.loads(rotation.store.get(paths.public_jwks).value))  # type: ignore[union-attr]
        reply = handle(issuer, request)
        answer = "token" if "access_token" in reply else reply["error"]
        if answer == "token":
            issued.append((reply["access_token"], clock.now + LIFETIME))
        unexpired = [token for token, exp in issued if exp > clock.now]
        unverifiable = [token for token in unexpired if not verifies(token, jwks, clock.now)]
        rows.append({"step": label, "actions": actions, "answer": answer, "expected": expected, "unverifiable": unverifiable})
    during = rows[1:]
    record_figure(
        "rotation_under_ssm_outage",
        {
            "store": mode,
            "tokens_during_outage": sum(1 for row in during if row["answer"] == "token"),
            "refused_during_outage": sum(1 for row in during if row["answer"] != "token"),
            "unverifiable": len({token for row in rows for token in row["unverifiable"]}),
        },
    )
    for row in rows:
        assert row["unverifiable"] == [], f"{row['step']}: a token the issuer signed does not verify against the JWKS now"
        assert row["answer"] == row["expected"], row
    if mode == "kms":
        assert first.active.kms_key_id is not None and kms.key_state(first.active.kms_key_id) == "PendingDeletion"
    proxy.resume()
    clock.now += 10  # past the back-off after the last failed read
    reply = handle(issuer, request)
    assert "access_token" in reply, reply
    keyset = rotation.load()
    assert keyset is not None and jwt.get_unverified_header(reply["access_token"])["kid"] == keyset.active.kid
