"""Opt-in: a deployed stack, found by name (CLAIMFLOW_E2E_STACK) and its Outputs."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from tests.support import sample

pytestmark = pytest.mark.e2e
STACK = os.environ.get("CLAIMFLOW_E2E_STACK")


@pytest.mark.skipif(not STACK, reason="set CLAIMFLOW_E2E_STACK to a deployed claimflow stack to run")
def test_the_deployed_issuer_signs_tokens_its_jwks_verifies() -> None:
    import boto3
    import jwt

    from claimflow.wire.client import IssuerClient

    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
    }
    response = IssuerClient(outputs["IssuerFunctionName"]).request_tokens(sample("issuer.user-token.json"))
    with urllib.request.urlopen(outputs["JwksUrl"], timeout=10) as reply:
        jwks = json.loads(reply.read())
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(response.access_token)["kid"]]
    claims = jwt.decode(
        response.access_token,
        key,
        algorithms=[key.algorithm_name],  # the JWKS says which; never the token's own header
        audience="https://api.example.com/v1",
        issuer=outputs["IssuerUrl"].rstrip("/"),
    )
    assert claims["sub"] == sample("issuer.user-token.json")["subject"]
    # the examples run only where ExampleWorkflows enables them (a default deploy: none)
    ran = {run["id"] for run in response.workflows}
    assert ("lifetime_subscriber" in claims) == bool(ran & {"addThirdPartyDataToAccessToken", "addThirdPartyDataUsingEnvs"})
