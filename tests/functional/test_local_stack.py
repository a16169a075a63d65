"""End to end on the local stack: template.yaml's functions in the emulator, moto as SSM,
the third-party stand-in. Every function on every sample event; the issuer invoking the
seed's workflows; tokens verified against the JWKS the JWKS function serves."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet as JoseKeySet

from claimflow.wire.client import IssuerClient, IssuerRefusedError
from claimflow_local.hook_callers import signed_event
from claimflow_local.stack.deployment import LocalDeployment
from claimflow_local.stack.token_endpoint import TokenRequestEndpoint
from tests.support import EVENTS, function_for_event, hook_claims, sample, subscriber_claim

FUNCTION_FOR_EVENT = {path.name: function_for_event(path.name) for path in sorted(EVENTS.glob("*.json"))}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalDeployment]:
    with LocalDeployment() as running:
        yield running


@pytest.fixture(scope="module")
def issuer(stack: LocalDeployment) -> IssuerClient:
    return stack.issuer_client()


def test_every_sample_event_has_a_function() -> None:
    assert len(FUNCTION_FOR_EVENT) >= 9  # function_for_event asserted each one has its function


@pytest.mark.parametrize("event_name", sorted(FUNCTION_FOR_EVENT))
def test_every_function_answers_its_sample_event(stack: LocalDeployment, event_name: str) -> None:
    payload = (EVENTS / event_name).read_bytes()
    if event_name.startswith("hooks."):  # as its stack sends it: signed now (a signature made once goes stale)
        payload = json.dumps(signed_event(sample(event_name), stack.settings)).encode()
    response = stack.lambda_client().invoke(FunctionName=FUNCTION_FOR_EVENT[event_name], Payload=payload)
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    if event_name == "workflow.mapClientToOrganization.json":
        assert body["outcome"] == "ok" and body["patches"]["m2m_token"]["set"] == {"org_code": "org_b5a9c8d7e6f5"}
    elif event_name in ("workflow.addThirdPartyDataToAccessToken.json", "workflow.addThirdPartyDataUsingEnvs.json"):
        assert body["outcome"] == "ok" and body["patches"]["access_token"]["set"] == {"lifetime_subscriber": True}
    elif event_name.startswith("workflow."):
        assert body["outcome"] == "ok", body
    elif event_name.startswith("issuer."):
        assert "access_token" in body, body
    elif event_name.startswith("cognito."):
        details = body["response"]["claimsAndScopeOverrideDetails"]
        assert details["accessTokenGeneration"]["claimsToAddOrOverride"], body
    elif event_name.startswith("hooks."):  # every stack's sample gets the seed workflows' claim
        route = sample(event_name)["rawPath"].removeprefix("/hooks/")
        assert body["statusCode"] == 200, body
        assert subscriber_claim(route).items() <= hook_claims(route, json.loads(body["body"])).items(), body
    elif event_name.startswith("rotation."):  # the stack's key set is fresh: nothing is due
        assert body["actions"] == [] and list(body["keys"].values()) == ["active"], body
    else:
        assert body["statusCode"] == 200


def test_tokens_from_the_issuer_verify_against_the_jwks_served_through_the_emulator(
    stack: LocalDeployment, issuer: IssuerClient
) -> None:
    response = issuer.request_tokens(sample("issuer.user-token.json"))
    with urllib.request.urlopen(stack.jwks_url, timeout=10) as reply:
        keys = JoseKeySet.import_key_set(json.loads(reply.read()))
    assert stack.emulator is not None
    issuer_url = stack.emulator.function_urls["JwksFunction"].rstrip("/")
    token = jose_jwt.decode(response.access_token, keys, algorithms=["RS256"])
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer_url}, aud={"essential": True, "value": "https://api.example.com/v1"}
    ).validate(token.claims)
    assert token.claims["lifetime_subscriber"] is True
    assert response.id_token is not None
    assert {run["id"] for run in response.workflows} >= {"addThirdPartyDataToAccessToken", "addThirdPartyDataUsingEnvs"}
    assert all(run["outcome"] == "ok" for run in response.workflows), response.workflows


def test_metadata_through_the_function_url_names_the_issuer_the_tokens_carry(stack: LocalDeployment) -> None:
    assert stack.oauth is not None
    with urllib.request.urlopen(f"{stack.issuer_url}/.well-known/oauth-authorization-server", timeout=10) as reply:
        document = json.loads(reply.read())
    assert document["issuer"] == stack.issuer_url
    assert document["jwks_uri"] == stack.jwks_url
    assert document["token_endpoint"] == stack.oauth.url  # the example identity stack, as configured


def test_a_non_subscriber_gets_false_not_an_error(issuer: IssuerClient) -> None:
    request = sample("issuer.user-token.json")
    request["subject"] = "kp_not_a_subscriber"
    token = issuer.request_tokens(request).access_token
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["lifetime_subscriber"] is False


def test_a_malformed_request_is_refused_as_invalid_request(issuer: IssuerClient) -> None:
    with pytest.raises(IssuerRefusedError) as refused:
        issuer.request_tokens({"contract": "claimflow.token-request/v1"})
    assert refused.value.error_code == "invalid_request"


def test_the_local_token_endpoint_maps_oauth_errors_to_http_statuses(stack: LocalDeployment, issuer: IssuerClient) -> None:
    endpoint = TokenRequestEndpoint(issuer).start()
    try:
        ok = _post(endpoint.url, sample("issuer.user-token.json"))
        assert ok[0] == 200 and ok[1]["token_type"] == "Bearer"
        bad = _post(endpoint.url, {"trigger": "user:tokens_generation"})
        assert bad[0] == 400 and bad[1]["error"] == "invalid_request"
    finally:
        endpoint.stop()


def test_nan_in_a_token_request_is_invalid_request_not_the_runtimes_unmarshal_error(issuer: IssuerClient) -> None:
    endpoint = TokenRequestEndpoint(issuer).start()
    try:
        raw = json.dumps(sample("issuer.user-token.json"))[:-1] + ', "auth_time": NaN}'
        status, body = _post(endpoint.url, raw.encode())
        assert (status, body["error"]) == (400, "invalid_request"), body
        with pytest.raises(IssuerRefusedError) as refused:
            issuer.request_tokens({**sample("issuer.user-token.json"), "auth_time": float("inf")})
        assert refused.value.error_code == "invalid_request" and "Unmarshal" not in refused.value.description
    finally:
        endpoint.stop()


def _post(url: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_an_m2m_token_carries_the_client_credentials_claims_and_the_workflows_org_code(issuer: IssuerClient) -> None:
    response = issuer.request_tokens(sample("issuer.m2m-token.json"))
    claims = json.loads(base64.urlsafe_b64decode(response.access_token.split(".")[1] + "=="))
    assert (claims["sub"], claims["client_id"], claims["gty"]) == ("m2m_3c9e2a7f41d8", "m2m_3c9e2a7f41d8", "client_credentials")
    assert (claims["scope"], claims["org_code"]) == ("read:reports", "org_b5a9c8d7e6f5")
    assert response.id_token is None
    assert [(r["id"], r["outcome"]) for r in response.workflows] == [("mapClientToOrganization", "ok")]


def test_an_unregistered_m2m_client_is_denied(issuer: IssuerClient) -> None:
    request = sample("issuer.m2m-token.json")
    request["client_id"] = "m2m_unknown"
    with pytest.raises(IssuerRefusedError) as refused:
        issuer.request_tokens(request)
    assert refused.value.error_code == "access_denied"
    assert "m2m_unknown is not registered" in refused.value.description
