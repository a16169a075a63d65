"""The S3 sink's PutObject is signed as botocore's S3 signer signs it (moto's server checks no
signature, so this is where the signature is proven), asks for SSE-KMS under the stage's key,
and a refusal is a RecordingWriteError naming S3's code."""

from __future__ import annotations

import datetime
import hashlib
import types
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from claimflow.infra import sigv4
from claimflow.infra.sigv4 import Credentials
from claimflow.record import RecordingWriteError
from claimflow.record.s3_sink import S3RecordingSink

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


class Response:
    def __init__(self, status: int, data: bytes = b"") -> None:
        self.status, self.data, self.headers = status, data, {}


class CapturingPool:
    def __init__(self, answer: Response) -> None:
        self.answer = answer
        self.sent: dict[str, Any] = {}

    def urlopen(self, method: str, path: str, *, body: bytes, headers: dict[str, str], **options: Any) -> Response:
        self.sent = {"method": method, "path": path, "body": body, "headers": headers}
        return self.answer


def sink_sending(answer: Response, *, token: str | None = None) -> tuple[S3RecordingSink, CapturingPool]:
    sink = S3RecordingSink(
        bucket="claimflow-prod-recordings",
        prefix="recordings/prod/",
        kms_key=KEY_ARN,
        region_name="eu-west-1",
        credentials=Credentials("AKIDEXAMPLE", SECRET_KEY, token),
    )
    pool = CapturingPool(answer)
    sink._http._pool = pool  # type: ignore[assignment]
    return sink, pool


@pytest.mark.parametrize("token", [None, "IQoJb3JpZ2luX2VjE//session+token=="])
def test_put_object_is_signed_as_botocores_s3_signer_signs_it(token: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    body = b'{"contract":"claimflow.recording/v1"}'
    key = "recordings/prod/2026-12-02T12-00-01.123456Z-ab12.json"
    reference = AWSRequest(
        method="PUT",
        url=f"https://claimflow-prod-recordings.s3.eu-west-1.amazonaws.com/{key}",
        data=body,
        headers={
            "Content-Type": "application/json",
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": KEY_ARN,
        },
    )
    reference.context["payload_signing_enabled"] = True  # S3 over HTTPS may skip it; we always sign the payload
    S3SigV4Auth(BotocoreCredentials("AKIDEXAMPLE", SECRET_KEY, token), "s3", "eu-west-1").add_auth(reference)
    moment = datetime.datetime.strptime(reference.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)

    class Then(datetime.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return moment

    monkeypatch.setattr(sigv4, "datetime", types.SimpleNamespace(datetime=Then, UTC=datetime.UTC))
    sink, pool = sink_sending(Response(200), token=token)
    sink.write("2026-12-02T12-00-01.123456Z-ab12.json", body)
    sent = pool.sent["headers"]
    assert (pool.sent["method"], pool.sent["path"], pool.sent["body"]) == ("PUT", f"/{key}", body)
    assert sent["Authorization"] == reference.headers["Authorization"]
    assert sent["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()
    assert (sent["x-amz-server-side-encryption"], sent["x-amz-server-side-encryption-aws-kms-key-id"]) == ("aws:kms", KEY_ARN)


def test_a_refusal_is_a_write_error_naming_s3s_code() -> None:
    error = b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
    sink, _ = sink_sending(Response(403, error))
    with pytest.raises(RecordingWriteError, match=r"AccessDenied \(403\): Access Denied"):
        sink.write("x.json", b"{}")


def test_a_key_s3_would_need_escaped_is_refused_before_sending() -> None:
    sink, pool = sink_sending(Response(200))
    with pytest.raises(RecordingWriteError, match="characters"):
        sink.write("a b%.json", b"{}")
    assert pool.sent == {}
