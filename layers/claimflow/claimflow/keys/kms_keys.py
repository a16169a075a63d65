"""Signing keys made in AWS KMS: asymmetric ``SIGN_VERIFY`` keys whose private half never
leaves KMS. The key set in SSM holds each key's ARN and its public JWK (built from
``GetPublicKey`` once, when the key is made); the issuer signs with ``kms:Sign``.

Safe to re-run after a failure: a new key is pointed at by the stage's ``pending`` alias
until the key set records it, so a rotation that failed in between adopts it on its next run
instead of making another (an orphan KMS key costs $1 a month and signs nothing).
"""

from __future__ import annotations

from typing import Any

from claimflow.infra.kms_api import KmsApi
from claimflow.keys.errors import SigningKeyError
from claimflow.keys.keyset import KMS_KEY_SPECS, KeyEntry, KeySet

__all__ = ["STAGE_TAG", "KmsKeys"]

#: Every key claimflow makes carries this tag (its value: the stage); IAM allows kms:Sign on those only.
STAGE_TAG = "claimflow-stage"


class KmsKeys:
    name = "kms"

    def __init__(self, kms: KmsApi, *, stage: str) -> None:
        self.kms = kms
        self.stage = stage
        self.pending_alias = f"alias/claimflow/{stage}/pending"

    def make(self, alg: str, *, status: str, now: int) -> KeyEntry:
        if alg not in KMS_KEY_SPECS:
            raise SigningKeyError(f"KMS keys sign {', '.join(KMS_KEY_SPECS)}; {alg} keys are made with SigningKeyStore=ssm")
        arn = self._adoptable()
        if arn is None:
            arn = self.kms.create_signing_key(
                KMS_KEY_SPECS[alg][0], description=f"claimflow {self.stage} token signing ({alg})", tags={STAGE_TAG: self.stage}
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
