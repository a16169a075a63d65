"""Recordings to S3 (``PutObject``, SSE-KMS under the stage's recordings key): signed HTTP over
``claimflow.infra.aws_transport``, no boto3 (the issuer's cold start never imports botocore).
Runs on the recorder's thread, never on the login path.

Virtual-hosted addressing on AWS (``https://<bucket>.s3.<region>.amazonaws.com/<key>``);
path-style against a configured endpoint (``AWS_ENDPOINT_URL_S3``: moto in tests). Keys use
letters, digits and ``-._/`` only, so the path is signed as it is sent.
"""

from __future__ import annotations

import hashlib
import os
import re
from xml.etree import ElementTree

from claimflow.infra.aws_transport import AwsHttp, region
from claimflow.infra.sigv4 import Credentials
from claimflow.record.errors import RecordingWriteError

__all__ = ["S3RecordingSink"]

_KEY = re.compile(r"^[A-Za-z0-9._/-]+$")


class S3RecordingSink:
    """One bucket, one prefix (the only one the issuer's role may write under)."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str,
        kms_key: str = "",
        endpoint: str | None = None,
        region_name: str | None = None,
        credentials: Credentials | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.bucket, self.prefix, self.kms_key = bucket, prefix, kms_key
        where = region_name or region()
        configured = endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        base = f"{configured.rstrip('/')}/{bucket}" if configured else f"https://{bucket}.s3.{where}.amazonaws.com"
        self._http = AwsHttp("s3", endpoint=base, region_name=where, credentials=credentials, max_pool=2)
        self._timeout = timeout

    def write(self, name: str, body: bytes) -> None:
        import urllib3

        key = f"{self.prefix}{name}"
        if not _KEY.match(key):
            raise RecordingWriteError(f"recording key {key!r} has characters S3 keys here may not use")
        headers = {
            "Content-Type": "application/json",
            "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),  # S3 wants the payload hash as a header too
        }
        if self.kms_key:
            headers["x-amz-server-side-encryption"] = "aws:kms"
            headers["x-amz-server-side-encryption-aws-kms-key-id"] = self.kms_key
        try:
            response = self._http.send("PUT", f"/{key}", body, headers, timeout=urllib3.Timeout(connect=2.0, read=self._timeout))
        except urllib3.exceptions.HTTPError as error:
            raise RecordingWriteError(f"PutObject {key}: {type(error).__name__}: {error}") from None
        if response.status >= 300:
            raise RecordingWriteError(f"PutObject s3://{self.bucket}/{key}: {_s3_error(response.status, response.data)}")


def _s3_error(status: int, body: bytes) -> str:
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - S3's own error document, bounded by the response cap
    except ElementTree.ParseError:
        return f"HTTP {status}"
    code, message = root.findtext("Code") or f"HTTP {status}", root.findtext("Message") or ""
    return f"{code} ({status}){': ' + message if message else ''}"
