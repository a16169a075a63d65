"""Our SigV4 signatures equal botocore's for the same requests (the reference implementation),
for both services on the login path, with and without a session token."""

from __future__ import annotations

import datetime

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from claimflow.infra.sigv4 import Credentials, CredentialsProvider, sign

CASES = [
    (
        "lambda",
        "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Aissuer/invocations",
        {"Content-Type": "application/json", "X-Amz-Invocation-Type": "RequestResponse"},
        b'{"contract":"claimflow.workflow-invocation/v1"}',
    ),
    (
        "ssm",
        "https://ssm.eu-west-1.amazonaws.com/",
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.GetParametersByPath"},
        b'{"Path":"/claimflow/prod/env","Recursive":false,"WithDecryption":true}',
    ),
    (
        "ssm",
        "http://127.0.0.1:3003/",
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.GetParameter"},
        b"{}",
    ),
]


@pytest.mark.parametrize("token", [None, "IQoJb3JpZ2luX2VjE//session+token=="])
@pytest.mark.parametrize(("service", "url", "headers", "body"), CASES)
def test_signatures_equal_botocores(service: str, url: str, headers: dict[str, str], body: bytes, token: str | None) -> None:
    reference = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    SigV4Auth(
        BotocoreCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token), service, "eu-west-1"
    ).add_auth(reference)
    moment = datetime.datetime.strptime(reference.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    ours = sign(
        "POST",
        url,
        dict(headers),
        body,
        credentials=Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token),
        region="eu-west-1",
        service=service,
        now=moment,
    )
    assert ours["Authorization"] == reference.headers["Authorization"]
    assert ours.get("X-Amz-Security-Token") == reference.headers.get("X-Amz-Security-Token")


def test_lambdas_own_variables_are_the_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token")
    assert CredentialsProvider().get() == Credentials("ASIAEXAMPLE", "secret", "token")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "rotated")  # read on every call
    assert CredentialsProvider().get() == Credentials("ASIAEXAMPLE", "rotated", "token")


def test_credentials_never_show_their_secret() -> None:
    assert "secret" not in repr(Credentials("AKID", "secret", "token")) and "token" not in repr(
        Credentials("AKID", "secret", "token")
    )
