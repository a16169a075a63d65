"""AWS KMS for signing keys that never leave it: the calls claimflow makes, over signed HTTP in
KMS's JSON protocol (``claimflow.infra.aws_transport``; no boto3 on the login path).

``sign`` is on the login path: bounded by the caller's deadline, retried once on throttling
(KMS's asymmetric request quota is shared by every Sign in the account and Region) or on a
connection that failed, only while the deadline leaves time. The rest (create, publish, retire)
runs in the rotation function and the key CLI.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from claimflow.environment import Env, env_str
from claimflow.errors import KmsError
from claimflow.infra.aws_transport import AwsHttp
from claimflow.infra.sigv4 import Credentials

__all__ = ["KmsApi"]


class KmsApi:
    """One per container; thread-safe. The endpoint is ``CLAIMFLOW_KMS_ENDPOINT`` (make dev, sam
    local: moto), else boto3's ``AWS_ENDPOINT_URL_KMS``, else KMS's own."""

    def __init__(self, *, endpoint: str | None = None, credentials: Credentials | None = None) -> None:
        self._http = AwsHttp("kms", endpoint=endpoint or env_str(Env.KMS_ENDPOINT, "") or None, credentials=credentials)

    def sign(self, key_id: str, message: bytes, algorithm: str, *, deadline: float) -> bytes:
        """KMS's signature of ``message`` (KMS hashes it: ``MessageType`` RAW)."""
        body = {
            "KeyId": key_id,
            "Message": base64.b64encode(message).decode(),
            "MessageType": "RAW",
            "SigningAlgorithm": algorithm,
        }
        reply = self._call("Sign", body, deadline=deadline, retry=True)
        return base64.b64decode(reply["Signature"])

    def public_key(self, key_id: str) -> bytes:
        """The key's public half, DER SubjectPublicKeyInfo."""
        return base64.b64decode(self._call("GetPublicKey", {"KeyId": key_id})["PublicKey"])

    def create_signing_key(self, key_spec: str, *, description: str, tags: Mapping[str, str], policy: Mapping[str, Any]) -> str:
        """A new asymmetric SIGN_VERIFY key, tagged and with its key policy from the start; its ARN.

        The lockout safety check is bypassed on purpose: it requires that the caller (the rotation
        role) could rewrite the key's policy later, and that role must never be able to. ``policy``
        keeps the key manageable: it gives the account principal ``kms:PutKeyPolicy``."""
        reply = self._call(
            "CreateKey",
            {
                "KeySpec": key_spec,
                "KeyUsage": "SIGN_VERIFY",
                "Description": description,
                "Tags": [{"TagKey": k, "TagValue": v} for k, v in tags.items()],
                "Policy": json.dumps(policy),
                "BypassPolicyLockoutSafetyCheck": True,
            },
        )
        return str(reply["KeyMetadata"]["Arn"])

    def key_state(self, key_id: str) -> str:
        return str(self._call("DescribeKey", {"KeyId": key_id})["KeyMetadata"]["KeyState"])

    def point_alias(self, alias: str, key_id: str) -> None:
        """Create ``alias`` for ``key_id``, or move it there."""
        try:
            self._call("CreateAlias", {"AliasName": alias, "TargetKeyId": key_id})
        except KmsError as error:
            if error.code != "AlreadyExistsException":
                raise
            self._call("UpdateAlias", {"AliasName": alias, "TargetKeyId": key_id})

    def alias_target(self, alias: str) -> str | None:
        """The key ARN ``alias`` points at, or None."""
        try:
            return str(self._call("DescribeKey", {"KeyId": alias})["KeyMetadata"]["Arn"])
        except KmsError as error:
            if error.code == "NotFoundException":
                return None
            raise

    def delete_alias(self, alias: str) -> None:
        try:
            self._call("DeleteAlias", {"AliasName": alias})
        except KmsError as error:
            if error.code != "NotFoundException":
                raise

    def schedule_deletion(self, key_id: str, *, days: int = 7) -> None:
        """KMS keeps a key at least 7 days before deleting it; it can be cancelled meanwhile."""
        bare_id = key_id.rsplit("/", 1)[-1]  # KMS takes an ARN or the id; moto only the id
        try:
            self._call("ScheduleKeyDeletion", {"KeyId": bare_id, "PendingWindowInDays": days})
        except KmsError as error:
            if error.code != "KMSInvalidStateException":  # already pending deletion: done before
                raise

    def _call(
        self, action: str, arguments: dict[str, Any], *, deadline: float | None = None, retry: bool = False
    ) -> dict[str, Any]:
        return self._http.call_json(
            f"TrentService.{action}", arguments, error=KmsError, deadline=deadline, read_timeout=5.0, retry=retry
        )
