"""Recordings as the template deploys them: nothing at all unless ``RecordSampleRate`` is above 0;
then a bucket encrypted with its own KMS key, private, TLS only, whose recordings expire, and an
issuer that may put objects under its stage's prefix and nothing more (never read, list or
delete), told where through the variables the code reads."""

from __future__ import annotations

import json
from typing import Any

from claimflow.environment import Env, SsmPaths
from claimflow_local.template import SamTemplate
from tests.support import ROOT
from tests.template.test_template import cloudformation, sam, statements

RECORDING_RESOURCES = {
    "RecordingsKey",
    "RecordingsKeyAlias",
    "RecordingsBucket",
    "RecordingsBucketPolicy",
    "RecordingsBucketName",
}


def resolved(**overrides: str) -> SamTemplate:
    return SamTemplate.load(ROOT / "template.yaml", parameter_overrides=overrides)


def deployed(template: SamTemplate) -> set[str]:
    return {name for name, r in template.resources.items() if "Condition" not in r or template._condition(r["Condition"])}


def test_a_stage_records_nothing_and_makes_no_bucket_by_default() -> None:
    template = resolved()
    assert template.document["Parameters"]["RecordSampleRate"]["Default"] == 0
    assert RECORDING_RESOURCES.isdisjoint(deployed(template))
    issuer = template.functions()["IssuerFunction"].environment
    assert (issuer[Env.RECORD_SAMPLE_RATE], issuer[Env.RECORD_BUCKET], issuer[Env.RECORD_KMS_KEY]) == ("0", "", "")


def test_a_sample_rate_makes_the_bucket_and_tells_the_issuer_where() -> None:
    template = resolved(RecordSampleRate="0.05")
    assert deployed(template) >= RECORDING_RESOURCES
    issuer = template.functions()["IssuerFunction"].environment
    assert issuer[Env.RECORD_SAMPLE_RATE] == "0.05"
    assert issuer[Env.RECORD_BUCKET] and issuer[Env.RECORD_KMS_KEY]


def test_the_bucket_is_private_encrypted_with_its_own_rotating_key_and_expires_recordings() -> None:
    resources = sam()["Resources"]
    bucket = resources["RecordingsBucket"]["Properties"]
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": ["RecordingsKey", "Arn"]},
    }
    assert all(bucket["PublicAccessBlockConfiguration"].values()) and len(bucket["PublicAccessBlockConfiguration"]) == 4
    [expiry] = bucket["LifecycleConfiguration"]["Rules"]
    assert (expiry["Status"], expiry["Prefix"], expiry["ExpirationInDays"]) == (
        "Enabled",
        "recordings/",
        {"Ref": "RecordingRetentionDays"},
    )
    assert resources["RecordingsKey"]["Properties"]["EnableKeyRotation"] is True
    [deny] = resources["RecordingsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    key_use = [s for s in resources["RecordingsKey"]["Properties"]["KeyPolicy"]["Statement"] if "kms:Decrypt" in s["Action"]]
    assert [s["Condition"]["StringEquals"]["kms:ViaService"] for s in key_use] == [{"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}]


def test_the_issuer_may_only_put_recordings_under_its_stages_prefix() -> None:
    granted = [s for s in statements("IssuerFunction") if any(str(a).startswith("s3:") for a in _actions(s))]
    assert [(_actions(s), s["Resource"]) for s in granted] == [
        (["s3:PutObject"], {"Fn::Sub": "${RecordingsBucket.Arn}/recordings/${Stage}/*"})
    ]
    assert SsmPaths(stage="${Stage}").recordings_prefix() == "recordings/${Stage}/"  # where the code writes
    [encrypt] = [s for s in statements("IssuerFunction") if "kms:GenerateDataKey" in _actions(s)]
    assert encrypt["Resource"] == {"Fn::GetAtt": ["RecordingsKey", "Arn"]}
    assert encrypt["Condition"]["StringEquals"]["kms:ViaService"] == {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}
    for function in ("AddThirdPartyDataToAccessTokenFunction", "JwksFunction", "KeyRotationFunction"):
        assert not [s for s in statements(function) if any(str(a).startswith("s3:") for a in _actions(s))], function


def test_the_bucket_name_is_where_recordings_pull_looks_for_it() -> None:
    parameter = sam()["Resources"]["RecordingsBucketName"]["Properties"]
    assert parameter["Name"] == {"Fn::Sub": SsmPaths(stage="${Stage}").recordings_bucket}
    assert parameter["Value"] == {"Ref": "RecordingsBucket"}


def test_the_translated_template_keeps_the_recording_grants_conditional() -> None:
    role = json.dumps(cloudformation()["Resources"]["IssuerFunctionRole"])
    assert role.count('"RecordsLogins"') == 2  # both grants exist only with the bucket


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]
