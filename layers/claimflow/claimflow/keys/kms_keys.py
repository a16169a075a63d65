"""Signing keys made in AWS KMS: asymmetric ``SIGN_VERIFY`` keys whose private half never
leaves KMS. The key set in SSM holds each key's ARN and its public JWK (built from
``GetPublicKey`` once, when the key is made); the issuer signs with ``kms:Sign``.

Safe to re-run after a failure: a new key is pointed at by the stage's ``pending`` alias
until the key set records it, so a rotation that failed in between adopts it on its next run
instead of making another (an orphan KMS key costs $1 a month and signs nothing).
"""

from __future__ import annotations

import re
from typing import Any

from claimflow.environment import Env, env_str
from claimflow.errors import ConfigurationError
from claimflow.infra.kms_api import KmsApi
from claimflow.keys.errors import SigningKeyError
from claimflow.keys.keyset import KMS_KEY_SPECS, KeyEntry, KeySet

__all__ = ["STAGE_TAG", "KmsKeys", "signing_key_policy"]

#: Every key claimflow makes carries this tag (its value: the stage); IAM allows kms:Sign on those only.
STAGE_TAG = "claimflow-stage"

_ACCOUNT_PRINCIPAL = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:root")


def signing_key_policy(*, stage: str, account: str) -> dict[str, Any]:
    """The key policy a stage's signing key is made with. The account (``arn:...:root``)
    administers and uses the key through IAM, whose policies template.yaml scopes by the stage
    tag; that tag, which is what ties the key to its stage, can only ever be ``stage``: no IAM
    policy can re-tag the key for another stage or untag it (that takes a change of this policy
    first, by an account administrator). Other tags stay the account's to manage."""
    return {
        "Version": "2012-10-17",
        "Id": f"claimflow-{stage}-signing-key",
        "Statement": [
            {
                "Sid": "TheAccountAdministersAndUsesItThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": account},
                "Action": [
                    *("kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*"),
                    *("kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*"),
                    *("kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:Sign", "kms:Verify"),
                ],
                "Resource": "*",
            },
            {
                "Sid": "ItsStageTagNamesOnlyItsStage",
                "Effect": "Allow",
                "Principal": {"AWS": account},
                "Action": "kms:TagResource",
                "Resource": "*",
                "Condition": {"StringEquals": {f"aws:RequestTag/{STAGE_TAG}": stage}},
            },
            {
                "Sid": "OtherTagsAreTheAccounts",
                "Effect": "Allow",
                "Principal": {"AWS": account},
                "Action": ["kms:TagResource", "kms:UntagResource"],
                "Resource": "*",
                "Condition": {"ForAllValues:StringNotEquals": {"aws:TagKeys": [STAGE_TAG]}},
            },
        ],
    }


class KmsKeys:
    """``account``: the account principal a new key's policy names (else ``CLAIMFLOW_KMS_KEY_ACCOUNT``)."""

    name = "kms"

    def __init__(self, kms: KmsApi, *, stage: str, account: str | None = None) -> None:
        self.kms = kms
        self.stage = stage
        self.account = account or env_str(Env.KMS_KEY_ACCOUNT, "")
        self.pending_alias = f"alias/claimflow/{stage}/pending"

    def make(self, alg: str, *, status: str, now: int) -> KeyEntry:
        if alg not in KMS_KEY_SPECS:
            raise SigningKeyError(f"KMS keys sign {', '.join(KMS_KEY_SPECS)}; {alg} keys are made with SigningKeyStore=ssm")
        arn = self._adoptable()
        if arn is None:
            if not _ACCOUNT_PRINCIPAL.fullmatch(self.account):
                raise ConfigurationError(
                    f"{Env.KMS_KEY_ACCOUNT}={self.account!r}: a new KMS key's policy needs the account principal, "
                    "arn:<partition>:iam::<account id>:root (template.yaml sets it for the rotation function)"
                )
            arn = self.kms.create_signing_key(
                KMS_KEY_SPECS[alg][0],
                description=f"claimflow {self.stage} token signing ({alg})",
                tags={STAGE_TAG: self.stage},
                policy=signing_key_policy(stage=self.stage, account=self.account),
            )
            self.kms.point_alias(self.pending_alias, arn)
        return KeyEntry(
            kid=f"{alg.lower()}-kms-{arn.rsplit('/', 1)[-1][:16]}",
            alg=alg,
            status=status,
            created_at=now,
            jwk=_public_jwk(self.kms.public_key(arn), alg),
            kms_key_id=arn,
        )

    def reconcile(self, keyset: KeySet) -> None:
        """Finish what a run cut short: a pending key the set already holds is no orphan."""
        target = self.kms.alias_target(self.pending_alias)
        if target is not None and any(key.kms_key_id == target for key in keyset.keys):
            self.kms.delete_alias(self.pending_alias)

    def recorded(self, entry: KeyEntry) -> None:
        if entry.kms_key_id is not None and self.kms.alias_target(self.pending_alias) == entry.kms_key_id:
            self.kms.delete_alias(self.pending_alias)

    def retired(self, entry: KeyEntry) -> None:
        if entry.kms_key_id is not None:
            self.kms.schedule_deletion(entry.kms_key_id)

    def _adoptable(self) -> str | None:
        """The key an earlier run made but did not record, if it can still sign."""
        arn = self.kms.alias_target(self.pending_alias)
        return arn if arn is not None and self.kms.key_state(arn) == "Enabled" else None


def _public_jwk(der: bytes, alg: str) -> dict[str, Any]:
    from cryptography.hazmat.primitives.serialization import load_der_public_key
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    key: Any = load_der_public_key(der)
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key, as_dict=True) if alg == "RS256" else ECAlgorithm.to_jwk(key, as_dict=True)
    return jwk
