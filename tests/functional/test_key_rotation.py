"""Scheduled rotation across a full period, with an injected clock, in both key stores: keys
made here (``ssm``) and keys that never leave KMS (``kms``, moto's KMS). At every step a
token is issued and every token still unexpired is verified against the JWKS served then:
old tokens verify until they expire, new ones from promotion, and no token is ever signed by
a key the JWKS did not already hold."""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import jwt
import pytest

from claimflow.environment import SsmPaths
from claimflow.errors import ConfigurationError
from claimflow.infra.kms_api import KmsApi
from claimflow.infra.sigv4 import Credentials
from claimflow.infra.ssm import SsmParameterStore
from claimflow.issuer import InProcessWorkflowInvoker, IssuerConfig, TokenIssuer, WorkflowRegistry
from claimflow.keys import KeyProvider
from claimflow.keys.kms_keys import KmsKeys, signing_key_policy
from claimflow.keys.manager import DEFAULT_GRACE_SECONDS, KeyManager, KeySource, LocalKeys, RotationPolicy
from claimflow.tokens import TokenKind
from claimflow_local.stack.ssm import EmbeddedSsm
from tests.support import ROOT, record_figure, sample

HOUR, DAY = 3600, 86400
LIFETIME = HOUR  # access tokens
POLICY = RotationPolicy(period_seconds=30 * DAY, grace_seconds=DEFAULT_GRACE_SECONDS, retire_after_seconds=LIFETIME + 300)
T0 = 1_800_000_000
MOTO_ACCOUNT = "arn:aws:iam::123456789012:root"
#: Every step of one period and the start of the next, in order.
STEPS = [
    ("day 0: created", T0),
    ("day 29: nothing due", T0 + 29 * DAY),
    ("day 30: next key published", T0 + 30 * DAY),
    ("+1 h: still waiting (caches)", T0 + 30 * DAY + HOUR),
    ("+2 h 15 min: next key signs", T0 + 30 * DAY + DEFAULT_GRACE_SECONDS),
    ("+30 min: old tokens still valid", T0 + 30 * DAY + DEFAULT_GRACE_SECONDS + 30 * 60),
    ("+1 h 5 min: old key retired", T0 + 30 * DAY + DEFAULT_GRACE_SECONDS + LIFETIME + 300),
    ("day 60: next cycle published", T0 + 60 * DAY + DEFAULT_GRACE_SECONDS),
]


def _rotation(mode: str, embedded_ssm: EmbeddedSsm, ssm: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store = SsmParameterStore(client=ssm, max_age=0)
    paths = SsmPaths(stage=f"rotation-{mode}")
    kms = KmsApi(endpoint=embedded_ssm.url)
    keys: KeySource = KmsKeys(kms, stage=paths.stage, account=MOTO_ACCOUNT) if mode == "kms" else LocalKeys()
    return mode, KeyManager(store, paths, keys=keys), KeyProvider(store, paths.signing_keyset, kms=lambda: kms), kms


@pytest.fixture(params=["ssm", "kms"])
def rotation(request: pytest.FixtureRequest, embedded_ssm: EmbeddedSsm, ssm: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return _rotation(request.param, embedded_ssm, ssm, monkeypatch)


@pytest.fixture
def kms_rotation(embedded_ssm: EmbeddedSsm, ssm: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return _rotation("kms", embedded_ssm, ssm, monkeypatch)


def served_jwks(manager: KeyManager) -> jwt.PyJWKSet:
    parameter = manager.store.get(manager.paths.public_jwks)
    assert parameter is not None
    return jwt.PyJWKSet.from_dict(json.loads(parameter.value))


def verifies(token: str, jwks: jwt.PyJWKSet, now: int) -> bool:
    kid = jwt.get_unverified_header(token)["kid"]
    key = next((k for k in jwks.keys if k.key_id == kid), None)
    if key is None:
        return False
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience="https://api.example.com/v1",
        options={"verify_exp": False, "verify_iat": False},
    )
    return bool(claims["exp"] > now)


def test_a_full_rotation_period_keeps_every_unexpired_token_verifiable(rotation: Any) -> None:
    mode, manager, provider, _ = rotation
    clock = {"now": T0}
    issuer = TokenIssuer(
        config=IssuerConfig(issuer_url="https://issuer.test", lifetimes={TokenKind.ACCESS: LIFETIME}),
        registry=WorkflowRegistry([]),
        invoker=InProcessWorkflowInvoker({}),
        keys=provider,
        clock=lambda: clock["now"],
    )
    request = {**sample("issuer.user-token.json"), "scope": []}
    issued: list[tuple[str, int]] = []  # (token, exp)
    rows = []
    manager.init(alg="RS256", now=T0)
    for label, now in STEPS:
        clock["now"] = now
        _, actions = manager.advance(now=now, policy=POLICY)
        jwks = served_jwks(manager)
        token = issuer.issue(request).tokens[TokenKind.ACCESS]
        kid = jwt.get_unverified_header(token)["kid"]
        assert kid in {k.key_id for k in jwks.keys}, f"{label}: signed by {kid}, which the JWKS did not hold"
        issued.append((token, now + LIFETIME))
        unexpired = [t for t, exp in issued if exp > now]
        verified = [t for t in unexpired if verifies(t, jwks, now)]
        assert verified == unexpired, f"{label}: an unexpired token no longer verifies"
        keyset = manager.load()
        rows.append(
            {
                "step": label,
                "actions": actions,
                "jwks": len(jwks.keys),
                "statuses": [k.status for k in keyset.keys],
                "verified": f"{len(verified)}/{len(unexpired)}",
            }
        )
    by_step = {row["step"]: row for row in rows}
    assert by_step["day 29: nothing due"]["actions"] == []
    assert by_step["day 30: next key published"]["statuses"] == ["active", "next"]
    assert by_step["+1 h: still waiting (caches)"]["actions"] == []
    assert by_step["+2 h 15 min: next key signs"]["statuses"] == ["previous", "active"]
    assert by_step["+30 min: old tokens still valid"]["jwks"] == 2
    assert by_step["+1 h 5 min: old key retired"]["statuses"] == ["active"]
    assert by_step["day 60: next cycle published"]["statuses"] == ["active", "next"]
    record_figure(f"rotation {mode}", rows)


def test_a_run_repeated_at_the_same_moment_does_nothing_more(rotation: Any) -> None:
    _, manager, _, _ = rotation
    manager.init(alg="RS256", now=T0)
    first, actions = manager.advance(now=T0 + 30 * DAY, policy=POLICY)
    again, repeated = manager.advance(now=T0 + 30 * DAY, policy=POLICY)
    assert actions and repeated == [] and again == first


def test_a_kms_key_made_by_a_run_that_failed_before_recording_it_is_adopted(kms_rotation: Any) -> None:
    _, manager, _, kms = kms_rotation
    manager.init(alg="RS256", now=T0)
    orphan = manager.keys.make("RS256", status="next", now=T0)  # made, then the run died before saving
    keyset, _ = manager.advance(now=T0 + 30 * DAY, policy=POLICY)
    assert keyset.pending is not None and keyset.pending.kms_key_id == orphan.kms_key_id
    assert kms.alias_target(manager.keys.pending_alias) is None  # recorded: no longer pending


def test_a_kms_key_is_made_with_its_stage_tag_and_a_key_policy_that_keeps_the_tag_its_stages(
    kms_rotation: Any, embedded_ssm: EmbeddedSsm
) -> None:
    _, manager, _, _ = kms_rotation
    arn = manager.init(alg="RS256", now=T0).active.kms_key_id
    kms = embedded_ssm.client("kms")
    tags = kms.list_resource_tags(KeyId=arn)["Tags"]
    assert tags == [{"TagKey": "claimflow-stage", "TagValue": manager.paths.stage}]  # tagged by CreateKey itself
    policy = json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
    assert policy == signing_key_policy(stage=manager.paths.stage, account=MOTO_ACCOUNT)
    # not KMS's default ("kms:*" for the account): the account keeps every administrative action ...
    administer = next(s for s in policy["Statement"] if s["Sid"] == "TheAccountAdministersAndUsesItThroughIam")
    assert administer["Principal"] == {"AWS": MOTO_ACCOUNT} and "kms:Put*" in administer["Action"]
    # ... but may set the stage tag only to this stage, and never remove it
    assert {"kms:*", "kms:UntagResource", "kms:TagResource"}.isdisjoint(administer["Action"])


def test_a_kms_key_is_not_made_without_the_account_its_policy_names(
    embedded_ssm: EmbeddedSsm, ssm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLAIMFLOW_KMS_KEY_ACCOUNT", raising=False)
    keys = KmsKeys(KmsApi(endpoint=embedded_ssm.url, credentials=Credentials("testing", "testing")), stage="no-account")
    with pytest.raises(ConfigurationError, match=r"CLAIMFLOW_KMS_KEY_ACCOUNT='': .*arn:<partition>:iam::<account id>:root"):
        keys.make("RS256", status="active", now=T0)
    assert embedded_ssm.client("kms").list_keys()["Keys"] == []  # nothing made


def test_keys_init_with_the_kms_store_makes_a_key_whose_policy_names_the_callers_account(
    embedded_ssm: EmbeddedSsm, ssm: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from claimflow_local.cli.keys import main as keys_cli

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL_STS": embedded_ssm.url,  # boto3's and KmsApi's own endpoint variables
        "AWS_ENDPOINT_URL_KMS": embedded_ssm.url,
    }.items():
        monkeypatch.setenv(name, value)
    store = SsmParameterStore(client=ssm, max_age=0)
    assert keys_cli(["init", "--store", "kms", "--stage", "by-hand"], store=store) == 0, capsys.readouterr().err
    keyset = KeyManager(store, SsmPaths(stage="by-hand")).load()
    assert keyset is not None and keyset.active.kms_key_id is not None
    policy = embedded_ssm.client("kms").get_key_policy(KeyId=keyset.active.kms_key_id, PolicyName="default")["Policy"]
    assert json.loads(policy) == signing_key_policy(stage="by-hand", account=MOTO_ACCOUNT)  # STS named the account
    # what docs/kms-keys-and-stages.md has you give a key made before key policies
    assert "./claimflow keys policy --stage prod > policy.json" in (ROOT / "docs" / "kms-keys-and-stages.md").read_text()
    capsys.readouterr()
    assert keys_cli(["policy", "--stage", "by-hand"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(policy)


def test_a_retired_kms_key_is_scheduled_for_deletion_and_never_the_active_one(kms_rotation: Any) -> None:
    _, manager, _, kms = kms_rotation
    first = manager.init(alg="RS256", now=T0).active
    for _, now in STEPS[1:7]:
        keyset, _ = manager.advance(now=now, policy=POLICY)
    assert kms.key_state(first.kms_key_id) == "PendingDeletion"
    assert kms.key_state(keyset.active.kms_key_id) == "Enabled"


def test_kms_signing_latency_locally(rotation: Any) -> None:
    mode, manager, provider, _ = rotation
    manager.init(alg="RS256", now=T0)
    signer = provider.signer()
    samples = []
    for _ in range(40):
        started = time.perf_counter()
        signer.sign({"sub": "u", "exp": T0 + 60}, typ="at+jwt", deadline=time.monotonic() + 5)
        samples.append((time.perf_counter() - started) * 1000)
    record_figure(f"sign p50 ms ({mode}, local)", round(statistics.median(samples), 3))
    assert statistics.median(samples) < 100


def test_an_es256_kms_signature_is_joses_raw_r_s_and_verifies(kms_rotation: Any) -> None:
    _, manager, provider, _ = kms_rotation
    keyset = manager.init(alg="ES256", now=T0)
    token = provider.signer().sign({"sub": "u"}, typ="JWT", deadline=time.monotonic() + 5)
    signature = jwt.utils.base64url_decode(token.rsplit(".", 1)[1])
    assert len(signature) == 64  # r ‖ s, not KMS's DER
    assert jwt.decode(token, jwt.PyJWK(keyset.active.public_jwk()).key, algorithms=["ES256"]) == {"sub": "u"}
    assert "d" not in keyset.active.jwk  # the private half never left KMS


def test_the_rotation_function_creates_the_key_set_then_does_only_what_is_due(
    embedded_ssm: EmbeddedSsm, ssm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from claimflow.keys import rotation

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "CLAIMFLOW_SSM_ENDPOINT": embedded_ssm.url,
        "CLAIMFLOW_KMS_ENDPOINT": embedded_ssm.url,
        "CLAIMFLOW_STAGE": "scheduled",
        "CLAIMFLOW_SIGNING_KEY_STORE": "kms",
        "CLAIMFLOW_KMS_KEY_ACCOUNT": MOTO_ACCOUNT,  # as template.yaml sets it
        "POWERTOOLS_METRICS_DISABLED": "1",
    }.items():
        monkeypatch.setenv(name, value)
    first = rotation.lambda_handler({}, None)
    assert first["actions"][0].startswith("created the key set with rs256-kms-")
    assert rotation.lambda_handler({}, None) == {"actions": [], "keys": first["keys"]}


def test_keys_status_shows_each_keys_state_and_when_it_moves_next(ssm: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from claimflow_local.cli.keys import main as keys_cli

    store = SsmParameterStore(client=ssm, max_age=0)
    manager = KeyManager(store, SsmPaths(stage="status"))
    now = int(time.time())
    active = manager.init(alg="RS256", now=now - 31 * DAY).active
    pending = manager.advance(now=now - HOUR, policy=POLICY)[0].pending
    assert pending is not None
    assert keys_cli(["status", "--stage", "status"], store=store) == 0
    lines = capsys.readouterr().out.splitlines()
    promotion = time.strftime("%Y-%m-%d %H:%M", time.gmtime(pending.created_at + DEFAULT_GRACE_SECONDS))
    assert lines == [
        f"active    {active.kid}  RS256 in SSM  next: its successor is promoted at {promotion}Z",
        f"next      {pending.kid}  RS256 in SSM  next: signs (promoted) at {promotion}Z",
    ]


def test_the_built_issuer_signs_with_a_kms_key_and_the_jwks_function_serves_its_public_half(tmp_path: Any) -> None:
    import os

    from claimflow_local.stack.deployment import LocalDeployment
    from tests.functional.test_toolkit import project_copy

    root = project_copy(tmp_path)
    settings = json.loads((root / "local" / "settings.json").read_text())
    (root / "local" / "settings.json").write_text(json.dumps({**settings, "signing_key_store": "kms"}))
    with open(os.devnull, "w") as sink, LocalDeployment(root=root, log=sink) as stack:
        reply = json.loads(
            stack.lambda_client()
            .invoke(FunctionName="IssuerFunction", Payload=(root / "events" / "issuer.user-token.json").read_bytes())["Payload"]
            .read()
        )
        jwks = jwt.PyJWKClient(stack.jwks_url).get_signing_key_from_jwt(reply["access_token"])
        keyset = KeyManager(SsmParameterStore(client=stack.ssm.client(), max_age=0), SsmPaths(stage="local")).load()  # type: ignore[union-attr]
    claims = jwt.decode(reply["access_token"], jwks.key, algorithms=["RS256"], audience="https://api.example.com/v1")
    assert claims["lifetime_subscriber"] is True
    assert keyset is not None and keyset.active.kms_key_id is not None and "d" not in keyset.active.jwk
