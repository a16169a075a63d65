"""The seed's workflows on the real adapters, and a full issuance verified by a JWT
library other than the one that signed (joserfc) against the JWKS the JWKS handler serves."""

from __future__ import annotations

import json
from typing import Any

import pytest
from joserfc import jwt as jose_jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet as JoseKeySet

from claimflow import create_handler
from claimflow.infra.guarded_http_client import RequestsHttpClient
from claimflow.infra.ssm import SsmParameterStore
from claimflow.issuer import InProcessWorkflowInvoker, IssuerConfig, TokenIssuer, WorkflowRegistry
from claimflow.issuer.app import handle
from claimflow.keys import KeyProvider
from claimflow.keys.discovery import IdentityStackEndpoints
from claimflow.keys.jwks import JwksEndpoints
from claimflow.keys.manager import KeyManager
from claimflow.runtime import WorkflowServices
from claimflow_local.stack.third_party import StubThirdPartyApi
from tests.functional.conftest import PATHS, SECRET, USER_ID
from tests.support import SEED_WORKFLOWS, load_workflow, sample

ISSUER = "https://issuer.functional.test"


def seed_env(ssm: Any) -> None:
    ssm.put_parameter(Name=f"{PATHS.shared_env}/API_KEY", Value=SECRET, Type="SecureString")


def real_services(ssm_store: SsmParameterStore) -> WorkflowServices:
    return WorkflowServices(local_mode=True, paths=PATHS, _parameters=ssm_store, _http=RequestsHttpClient(allow_private=True))


@pytest.mark.parametrize("workflow_id", sorted(SEED_WORKFLOWS))
def test_each_seed_workflow_on_its_sample_event_adds_lifetime_subscriber(
    workflow_id: str, ssm: Any, ssm_store: SsmParameterStore, api_base: str, third_party: StubThirdPartyApi
) -> None:
    seed_env(ssm)
    module = load_workflow(SEED_WORKFLOWS[workflow_id])
    handler = create_handler(module.workflow_settings, module.fetch_third_party_data_workflow, services=real_services(ssm_store))
    reply = handler(sample(f"workflow.{workflow_id}.json"), None)
    assert reply["outcome"] == "ok", reply
    assert reply["patches"]["access_token"]["set"] == {"lifetime_subscriber": True}
    if workflow_id == "addThirdPartyDataUsingEnvs":
        assert third_party.behaviour.seen_headers[-1]["Authorization"] == f"Bearer {SECRET}"


def test_a_wrong_api_key_fails_the_workflow_and_its_401_is_reported_and_logged(
    ssm: Any, ssm_store: SsmParameterStore, api_base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ssm.put_parameter(Name=f"{PATHS.shared_env}/API_KEY", Value="wrong-key-000", Type="SecureString")
    module = load_workflow("add_third_party_data_using_envs")
    handler = create_handler(module.workflow_settings, module.fetch_third_party_data_workflow, services=real_services(ssm_store))
    reply = handler(sample("workflow.addThirdPartyDataUsingEnvs.json"), None)
    # The seed's fetch would return the 401's {data}, read as lifetime_subscriber=false: the shipped workflow fails instead.
    assert (reply["outcome"], reply["patches"], reply["error"]["type"]) == ("failed", {}, "FetchStatusError")
    assert [e["status"] for e in reply["fetch_errors"]] == [401]
    logs = capsys.readouterr().out
    assert '"message":"fetch answered an error status"' in logs and '"status":401' in logs
    assert "wrong-key-000" not in json.dumps(reply) + logs


def issuer_over_seed_workflows(ssm_store: SsmParameterStore) -> TokenIssuer:
    handlers = {}
    for workflow_id, directory in SEED_WORKFLOWS.items():
        module = load_workflow(directory)
        handlers[workflow_id] = create_handler(
            module.workflow_settings, module.fetch_third_party_data_workflow, services=real_services(ssm_store)
        )
    registry = WorkflowRegistry.from_json(
        json.dumps([{"id": wid, "trigger": "user:tokens_generation", "function": wid} for wid in SEED_WORKFLOWS])
    )
    return TokenIssuer(
        config=IssuerConfig(issuer_url=ISSUER),
        registry=registry,
        invoker=InProcessWorkflowInvoker(handlers),
        keys=KeyProvider(ssm_store, PATHS.signing_keyset),
    )


def served_jwks(ssm_store: SsmParameterStore) -> dict[str, Any]:
    event = sample("jwks.get-jwks.json")
    response = JwksEndpoints(store=ssm_store, paths=PATHS).handle(event)
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/jwk-set+json"
    document: dict[str, Any] = json.loads(response["body"])
    return document


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_issued_tokens_verify_with_an_independent_library_against_the_served_jwks(
    alg: str, ssm: Any, ssm_store: SsmParameterStore, api_base: str
) -> None:
    seed_env(ssm)
    KeyManager(SsmParameterStore(client=ssm, max_age=0), PATHS).init(alg=alg)
    reply = handle(issuer_over_seed_workflows(ssm_store), sample("issuer.user-token.json"))
    assert "error" not in reply, reply
    keys = JoseKeySet.import_key_set(served_jwks(ssm_store))  # type: ignore[arg-type]

    access = jose_jwt.decode(reply["access_token"], keys, algorithms=[alg])
    assert access.header["typ"] == "at+jwt"
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": "https://api.example.com/v1"},
        exp={"essential": True},
        sub={"essential": True, "value": USER_ID},
    ).validate(access.claims)
    assert access.claims["lifetime_subscriber"] is True

    id_token = jose_jwt.decode(reply["id_token"], keys, algorithms=[alg])
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": "f77dbc2e9a104b6e8c3d5a7b9e1f2c4d"},
        nonce={"essential": True, "value": "n-0S6_WzA2Mj"},
    ).validate(id_token.claims)
    assert [(r["id"], r["outcome"]) for r in reply["workflows"]] == [
        ("addThirdPartyDataToAccessToken", "ok"),
        ("addThirdPartyDataUsingEnvs", "ok"),
    ]


def test_a_token_does_not_verify_against_another_stages_keys(ssm: Any, ssm_store: SsmParameterStore, api_base: str) -> None:
    seed_env(ssm)
    KeyManager(SsmParameterStore(client=ssm, max_age=0), PATHS).init(alg="RS256")
    reply = handle(issuer_over_seed_workflows(ssm_store), sample("issuer.user-token.json"))
    other = KeyManager(SsmParameterStore(client=ssm, max_age=0), type(PATHS)(stage="elsewhere")).init(alg="RS256")
    with pytest.raises(InvalidKeyIdError, match="No key for kid"):
        jose_jwt.decode(reply["access_token"], JoseKeySet.import_key_set(other.public_jwks()), algorithms=["RS256"])  # type: ignore[arg-type]


def test_discovery_names_the_issuer_and_its_jwks(ssm: Any, ssm_store: SsmParameterStore) -> None:
    KeyManager(SsmParameterStore(client=ssm, max_age=0), PATHS).init(alg="ES256")
    endpoints = IdentityStackEndpoints(authorization="https://login.test/authorize", token="https://login.test/token")
    event = {**sample("jwks.get-jwks.json"), "rawPath": "/.well-known/openid-configuration"}
    response = JwksEndpoints(store=ssm_store, paths=PATHS, issuer_url=ISSUER, endpoints=endpoints).handle(event)
    document = json.loads(response["body"])
    assert document["issuer"] == ISSUER
    assert document["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert document["id_token_signing_alg_values_supported"] == ["ES256"]
