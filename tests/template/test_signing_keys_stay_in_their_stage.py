"""Two stages of one account (SigningKeyStore=kms): no role of one stage has a path to the other
stage's signing keys. The policies are the template's, resolved for each stage's stack; the keys
are the ones the code makes (``KmsKeys.make`` against moto's KMS, with the environment the
template gives the rotation function), and keys a stage made before their key policy existed
(KMS's default policy: IAM alone decides). Every KMS operation of every role is tried against
the other stage's keys, including after any tag change some role of the stage could make."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from tests.template.iam_policy import Request, kms_allows
from tests.template.stack import ACCOUNT, REGION, Role, Stack
from tests.template.test_template import cloudformation

STAGES = ("dev", "prod")
TAG = "claimflow-stage"
#: AWS managed policies the roles carry; none of them grants a kms: action (read from IAM's policy pages).
MANAGED_WITHOUT_KMS = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",  # logs:CreateLogGroup/Stream, PutLogEvents
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",  # xray:Put*, xray:Get*Sampling*
    "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda",  # cloudwatch, lambda, s3, sns
}


def other(stage: str) -> str:
    return next(s for s in STAGES if s != stage)


@cache
def stack(stage: str, store: str = "kms") -> Stack:
    return Stack(cloudformation(), name=f"claimflow-{stage}", parameters={"Stage": stage, "SigningKeyStore": store})


def roles(stage: str, store: str = "kms") -> list[Role]:
    found = stack(stage, store).roles()
    for role in found:
        assert set(role.managed_policies) <= MANAGED_WITHOUT_KMS, f"{role.logical_id}: review {role.managed_policies}"
    return found


def role(stage: str, logical_id: str) -> Role:
    return next(r for r in roles(stage) if r.logical_id == logical_id)


@dataclass(frozen=True)
class Key:
    arn: str
    policy: Mapping[str, Any]
    tags: Mapping[str, str]
    spec: str = "RSA_2048"
    usage: str = "SIGN_VERIFY"

    def retagged(self, tags: Mapping[str, str], removed: Sequence[str] = ()) -> Key:
        kept = {k: v for k, v in {**self.tags, **tags}.items() if k not in removed}
        return Key(self.arn, self.policy, kept, self.spec, self.usage)


# --- the keys: made by the code in moto's KMS ----------------------------------------------------


@pytest.fixture(scope="module")
def kms_url() -> Iterator[str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _read_back(url: str, arn: str) -> Key:
    import json

    import boto3

    kms = boto3.client("kms", endpoint_url=url, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    policy = json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=arn)["Tags"]}
    return Key(arn, policy, tags, kms.describe_key(KeyId=arn)["KeyMetadata"]["KeySpec"])


@pytest.fixture(scope="module")
def keys(kms_url: str) -> dict[str, dict[str, Key]]:
    """Per stage: the key ``KmsKeys`` makes now, and one as the code made them before key policies."""
    import boto3

    from claimflow.infra.kms_api import KmsApi
    from claimflow.infra.sigv4 import Credentials
    from claimflow.keys.kms_keys import KmsKeys

    made: dict[str, dict[str, Key]] = {}
    for stage in STAGES:
        rotation = stack(stage).resolve(stack(stage).resources["KeyRotationFunction"]["Properties"])
        environment = rotation["Environment"]["Variables"]
        with pytest.MonkeyPatch.context() as patch:
            for name, value in environment.items():
                if name.startswith("CLAIMFLOW_") and name != "CLAIMFLOW_KMS_ENDPOINT":
                    patch.setenv(name, str(value))  # what the rotation function runs with
            kms = KmsApi(endpoint=kms_url, credentials=Credentials("testing", "testing"))
            arn = KmsKeys(kms, stage=stage).make("RS256", status="next", now=0).kms_key_id
        assert arn is not None
        earlier = boto3.client(
            "kms", endpoint_url=kms_url, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        ).create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY", Tags=[{"TagKey": TAG, "TagValue": stage}])
        made[stage] = {
            "made by the code": _read_back(kms_url, arn),
            "made before key policies": _read_back(kms_url, earlier["KeyMetadata"]["Arn"]),
        }
    return made


# --- requests ------------------------------------------------------------------------------------


def _key_context(key: Key) -> dict[str, list[str]]:
    return {
        **{f"aws:ResourceTag/{k}": [v] for k, v in key.tags.items()},
        "kms:KeySpec": [key.spec],
        "kms:KeyUsage": [key.usage],
        "kms:KeyOrigin": ["AWS_KMS"],
        "kms:MultiRegion": ["false"],
        "kms:CallerAccount": [ACCOUNT],
    }


def on_key(who: Role, action: str, key: Key, **context: list[str]) -> bool:
    request = Request(who.arn, action, key.arn, {**_key_context(key), "aws:PrincipalArn": [who.arn], **context})
    return kms_allows(request, identity=who.statements, key_policy=key.policy)


def tagging(tags: Mapping[str, str]) -> dict[str, list[str]]:
    return {**{f"aws:RequestTag/{k}": [v] for k, v in tags.items()}, "aws:TagKeys": list(tags)}


def alias_arn(name: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:{name}"


def on_alias(who: Role, action: str, alias: str, *keys: Key) -> bool:
    """CreateAlias, UpdateAlias, DeleteAlias: permission on the alias (IAM only) and on each key."""
    request = Request(who.arn, action, alias_arn(alias), {"aws:PrincipalArn": [who.arn]})
    return kms_allows(request, identity=who.statements, key_policy=None) and all(on_key(who, action, k) for k in keys)


def creates_key(who: Role, tags: Mapping[str, str], *, spec: str = "RSA_2048") -> bool:
    """CreateKey with Tags: kms:CreateKey and kms:TagResource, in IAM, on a key that has no tags yet."""
    request_context = {
        **tagging(tags),
        "kms:KeySpec": [spec],
        "kms:KeyUsage": ["SIGN_VERIFY"],
        "kms:KeyOrigin": ["AWS_KMS"],
        "kms:MultiRegion": ["false"],
        "kms:BypassPolicyLockoutSafetyCheck": ["true"],
        "aws:PrincipalArn": [who.arn],
    }
    create = Request(who.arn, "kms:CreateKey", "*", request_context)
    new_key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-4000-8000-000000000000"
    tag = Request(who.arn, "kms:TagResource", new_key, request_context)
    needed = (create, tag) if tags else (create,)
    return all(kms_allows(r, identity=who.statements, key_policy=None) for r in needed)


def kms_operations() -> list[str]:
    import botocore.session

    return sorted(botocore.session.get_session().get_service_model("kms").operation_names)


def _key_actions() -> list[str]:
    """The IAM action of every KMS operation on an existing key (ReEncrypt is two: From and To)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("kms")
    actions = []
    for operation in kms_operations():
        members = model.operation_model(operation).input_shape.members
        if operation == "ReEncrypt":
            actions += ["kms:ReEncryptFrom", "kms:ReEncryptTo"]
        elif "KeyId" in members and operation not in {"ListAliases"} | ALIAS_OPERATIONS:
            actions.append(f"kms:{operation}")
    return actions


ALIAS_OPERATIONS = {"CreateAlias", "UpdateAlias", "DeleteAlias"}
TAG_CHANGES: list[tuple[str, dict[str, str], tuple[str, ...]]] = [
    *(("kms:TagResource", t, ()) for t in ({TAG: "dev"}, {TAG: "prod"}, {TAG: "x"}, {"team": "x"}, {TAG: "dev", "team": "x"})),
    ("kms:UntagResource", {}, (TAG,)),
    ("kms:UntagResource", {}, ("team",)),
]


def tag_changes(who: Role, key: Key) -> Iterator[tuple[str, Key]]:
    """Each tag change ``who`` may make to ``key``, and the key after it."""
    for action, tags, removed in TAG_CHANGES:
        context = tagging(tags) if tags else {"aws:TagKeys": list(removed)}
        if on_key(who, action, key, **context):
            yield f"{who.logical_id} {action} {tags or list(removed)}", key.retagged(tags, removed)


def reachable(stage: str, key: Key) -> list[tuple[list[str], Key]]:
    """``key`` as it is, and as every sequence of tag changes by ``stage``'s roles leaves it."""
    seen: dict[tuple[tuple[str, str], ...], tuple[list[str], Key]] = {tuple(sorted(key.tags.items())): ([], key)}
    frontier = [([], key)]
    while frontier:
        path, current = frontier.pop()
        for who in roles(stage):
            for step, changed in tag_changes(who, current):
                state = tuple(sorted(changed.tags.items()))
                if state not in seen:
                    seen[state] = ([*path, step], changed)
                    frontier.append(seen[state])
    return list(seen.values())


# --- across stages: nothing ----------------------------------------------------------------------


@pytest.mark.parametrize("made", ["made by the code", "made before key policies"])
@pytest.mark.parametrize("stage", STAGES)
def test_no_role_of_a_stage_can_change_or_use_the_other_stages_signing_key(
    stage: str, made: str, keys: dict[str, dict[str, Key]]
) -> None:
    theirs = keys[other(stage)][made]
    found = []
    for path, key in reachable(stage, theirs):
        if path:
            found.append(f"{' then '.join(path)}: {other(stage)}'s key is now tagged {dict(key.tags)}")
        found += [
            f"{' then '.join([*path, ''])}{who.logical_id} may {action} {other(stage)}'s key"
            for who in roles(stage)
            for action in _key_actions()
            if on_key(who, action, key)
        ]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("stage", STAGES)
def test_whatever_tag_a_stage_can_put_on_another_key_of_the_account_it_cannot_use_or_delete_it(stage: str) -> None:
    """A key with no stage tag looks, to IAM, like one CreateKey is making (KMS offers no
    condition that tells the two apart), so the rotation role may give it this stage's tag. The
    account's other keys (here: an untagged symmetric key, KMS's default policy) stay out of reach
    all the same: a stage acts only on signing keys of the specs it makes."""
    account = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    default_policy = {"Statement": [{"Effect": "Allow", "Principal": account, "Action": "kms:*", "Resource": "*"}]}
    arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1111-someone-elses"
    key = Key(arn, default_policy, {}, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    found = [
        f"{' then '.join([*path, ''])}{who.logical_id} may {action} it"
        for path, state in reachable(stage, key)
        for who in roles(stage)
        for action in [*_key_actions(), "kms:CreateAlias"]
        if action not in {"kms:TagResource", "kms:UntagResource"} and on_key(who, action, state)
    ]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("stage", STAGES)
def test_no_role_of_a_stage_can_point_an_alias_at_the_other_stages_key_or_move_its_aliases(
    stage: str, keys: dict[str, dict[str, Key]]
) -> None:
    mine, theirs = keys[stage]["made by the code"], keys[other(stage)]["made by the code"]
    my_alias, their_alias = f"alias/claimflow/{stage}/pending", f"alias/claimflow/{other(stage)}/pending"
    attempts = {
        f"CreateAlias {my_alias} -> their key": ("kms:CreateAlias", my_alias, (theirs,)),
        f"UpdateAlias {my_alias} from my key -> their key": ("kms:UpdateAlias", my_alias, (mine, theirs)),
        f"CreateAlias {their_alias} -> my key": ("kms:CreateAlias", their_alias, (mine,)),
        f"UpdateAlias {their_alias} from their key -> my key": ("kms:UpdateAlias", their_alias, (theirs, mine)),
        f"DeleteAlias {their_alias} (their key)": ("kms:DeleteAlias", their_alias, (theirs,)),
    }
    found = [
        f"{who.logical_id}: {label}"
        for label, (action, alias, involved) in attempts.items()
        for who in roles(stage)
        if on_alias(who, action, alias, *involved)
    ]
    assert found == []


@pytest.mark.parametrize("stage", STAGES)
def test_no_role_can_make_a_key_for_the_other_stage_or_one_with_other_tags(stage: str) -> None:
    attempts = [{TAG: other(stage)}, {TAG: other(stage), "team": "x"}, {TAG: stage, "team": "x"}, {"team": "x"}, {}]
    found = [f"{who.logical_id}: CreateKey tagged {tags}" for tags in attempts for who in roles(stage) if creates_key(who, tags)]
    assert found == []


def test_the_other_kms_operations_act_on_no_key_and_no_role_may_call_them() -> None:
    on_no_key = [op for op in kms_operations() if f"kms:{op}" not in _key_actions() and op not in ALIAS_OPERATIONS]
    assert "CreateKey" in on_no_key and "ListKeys" in on_no_key
    found = [
        f"{who.logical_id}: kms:{op}"
        for stage, op in itertools.product(STAGES, on_no_key)
        if op != "CreateKey"  # tried with each stage's tags above
        for who in roles(stage)
        if kms_allows(Request(who.arn, f"kms:{op}", "*"), identity=who.statements, key_policy=None)
    ]
    assert found == []


# --- within a stage: what it needs, and no more ----------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_signs_makes_publishes_and_retires_its_own_keys(stage: str, keys: dict[str, dict[str, Key]]) -> None:
    issuer, rotation = role(stage, "IssuerFunctionRole"), role(stage, "KeyRotationFunctionRole")
    pending = f"alias/claimflow/{stage}/pending"
    for key in keys[stage].values():  # keys made before key policies keep working too
        assert on_key(issuer, "kms:Sign", key)
        for action in ("kms:GetPublicKey", "kms:DescribeKey", "kms:ScheduleKeyDeletion"):
            assert on_key(rotation, action, key), action
        assert on_alias(rotation, "kms:CreateAlias", pending, key) and on_alias(rotation, "kms:DeleteAlias", pending, key)
    assert creates_key(rotation, {TAG: stage}) and creates_key(rotation, {TAG: stage}, spec="ECC_NIST_P256")
    assert not creates_key(issuer, {TAG: stage})


@pytest.mark.parametrize("stage", STAGES)
def test_no_role_retags_untags_or_rewrites_the_policy_of_its_own_stages_keys(stage: str, keys: dict[str, dict[str, Key]]) -> None:
    found = [
        f"{who.logical_id}: {step}" for key in keys[stage].values() for who in roles(stage) for step, _ in tag_changes(who, key)
    ] + [
        f"{who.logical_id}: {action}"
        for key in keys[stage].values()
        for who in roles(stage)
        for action in ("kms:PutKeyPolicy", "kms:CreateGrant", "kms:CancelKeyDeletion", "kms:DisableKey")
        if on_key(who, action, key)
    ]
    assert found == []


@pytest.mark.parametrize("stage", STAGES)
def test_the_account_still_administers_a_key_the_code_made_but_cannot_move_it_to_another_stage(
    stage: str, keys: dict[str, dict[str, Key]]
) -> None:
    """The key policy gives administration to the account principal (else the key is unmanageable,
    and the lockout check is bypassed on purpose); the stage tag stays the key's stage."""
    everything = [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]
    admin = Role("AccountAdministrator", f"arn:aws:iam::{ACCOUNT}:role/Administrator", everything, [])
    key = keys[stage]["made by the code"]
    for action in ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:DisableKey", "kms:EnableKey"):
        assert on_key(admin, action, key), action
    assert on_key(admin, "kms:TagResource", key, **tagging({"team": "x"}))  # other tags are the account's
    assert on_key(admin, "kms:TagResource", key, **tagging({TAG: stage}))
    assert not on_key(admin, "kms:TagResource", key, **tagging({TAG: other(stage)}))
    assert not on_key(admin, "kms:UntagResource", key, **{"aws:TagKeys": [TAG]})


# --- SigningKeyStore=ssm: the key set's own KMS key -------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_with_keys_in_ssm_no_role_of_a_stage_can_use_the_other_stages_key_set_key(stage: str) -> None:
    theirs = stack(other(stage), "ssm")
    policy = theirs.resolve(theirs.resources["SigningKeysetKey"]["Properties"]["KeyPolicy"])
    key = Key(theirs.arn("SigningKeysetKey"), policy, {}, "SYMMETRIC_DEFAULT")
    via_ssm = {"kms:ViaService": [f"ssm.{REGION}.amazonaws.com"]}
    found = [
        f"{who.logical_id} may {action}{' through SSM' if context else ''}"
        for who in roles(stage, "ssm")
        for action in [*_key_actions(), "kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"]
        for context in ({}, via_ssm)
        if on_key(who, action, key, **context)
    ]
    assert found == []
    mine = stack(stage, "ssm")
    own = Key(mine.arn("SigningKeysetKey"), mine.resolve(mine.resources["SigningKeysetKey"]["Properties"]["KeyPolicy"]), {})
    assert on_key(role_in(mine, "IssuerFunctionRole"), "kms:Decrypt", own, **via_ssm)  # its own, through SSM only
    assert not on_key(role_in(mine, "IssuerFunctionRole"), "kms:Decrypt", own)


def role_in(where: Stack, logical_id: str) -> Role:
    return next(r for r in where.roles() if r.logical_id == logical_id)
