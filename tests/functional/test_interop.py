"""Interop with clients nobody here wrote, through the local stack, for RS256 and ES256:
Node's openid-client discovers the issuer and performs a client-credentials grant against the
example identity stack the metadata names (no metadata patched by hand); Node's jose verifies
the access token as a resource server (typ, issuer, audience); Authlib's RFC 9068 validator and
PyJWT's PyJWKClient (through the example resource server) verify it too. The npm packages are
installed by this module from tests/interop's lock file into tests/interop/node_modules."""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from identity_stack.resource_server import verify_access_token

from claimflow_local.stack.deployment import LocalDeployment
from tests.support import ROOT, npm_installed, record_figure

INTEROP = ROOT / "tests" / "interop"
SETTINGS = json.loads((ROOT / "local" / "settings.json").read_text())
CLIENT_ID, CLIENT = next(iter(SETTINGS["example_clients"].items()))


@pytest.fixture(scope="module")
def node() -> str:
    """Node with openid-client and jose installed (npm ci, again only when the lock file changes)."""
    npm_installed(INTEROP)
    node = str(shutil.which("node"))
    versions = {
        name: json.loads((INTEROP / "node_modules" / name / "package.json").read_text())["version"]
        for name in ("openid-client", "jose", "oauth4webapi")
    }
    record_figure("interop_versions", versions)
    return node


@pytest.fixture(scope="module", params=["RS256", "ES256"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    with LocalDeployment(parameter_overrides={"SigningAlgorithm": request.param}) as running:
        yield running


def run_node(node: str, script: str, *args: str) -> Any:
    result = subprocess.run([node, script, *args], cwd=INTEROP, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def alg_of(stack: LocalDeployment) -> str:
    return stack.parameters["SigningAlgorithm"]


def test_openid_client_discovers_the_issuer_and_gets_a_client_credentials_token(node: str, stack: LocalDeployment) -> None:
    assert stack.oauth is not None
    answer = run_node(node, "client_credentials.mjs", stack.issuer_url, CLIENT_ID, CLIENT["secret"], "read:reports")
    assert answer["token_endpoint"] == stack.oauth.url
    assert answer["jwks_uri"] == stack.jwks_url
    assert (answer["token_type"].lower(), answer["expires_in"] > 3500) == ("bearer", True)
    verified = run_node(
        node, "verify.mjs", answer["access_token"], answer["jwks_uri"], stack.issuer_url, CLIENT["audience"], alg_of(stack)
    )
    assert verified["header"]["alg"] == alg_of(stack) and verified["header"]["typ"] == "at+jwt"
    assert verified["claims"]["client_id"] == CLIENT_ID and verified["claims"]["org_code"] == "org_b5a9c8d7e6f5"
    assert verified["claims"]["scope"] == "read:reports"


def fetch_token(stack: LocalDeployment) -> str:
    assert stack.oauth is not None
    answer = requests.post(
        stack.oauth.url,
        auth=(CLIENT_ID, CLIENT["secret"]),
        data={"grant_type": "client_credentials", "scope": "read:reports"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_jose_refuses_a_token_for_another_audience_or_issuer(node: str, stack: LocalDeployment) -> None:
    token = fetch_token(stack)
    for issuer, audience in ((stack.issuer_url, "https://another.api"), (stack.issuer_url + "/", CLIENT["audience"])):
        result = subprocess.run(
            [node, "verify.mjs", token, stack.jwks_url, issuer, audience, alg_of(stack)],
            cwd=INTEROP,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0 and "JWTClaimValidationFailed" in result.stderr


def test_authlibs_rfc_9068_validator_accepts_the_token(stack: LocalDeployment) -> None:
    jwks = requests.get(stack.jwks_url, timeout=10).json()

    class Validator(JWTBearerTokenValidator):  # type: ignore[misc]
        def get_jwks(self) -> Any:
            return jwks

    validator = Validator(issuer=stack.issuer_url, resource_server=CLIENT["audience"])
    with warnings.catch_warnings():  # Authlib 1.9 deprecates its own JWKS import helper; the validation is what counts
        warnings.simplefilter("ignore", AuthlibDeprecationWarning)
        claims = validator.authenticate_token(fetch_token(stack))
    validator.validate_token(claims, scopes=["read:reports"], request=None)
    assert claims["sub"] == CLIENT_ID


def test_pyjwts_jwks_client_through_the_example_resource_server(stack: LocalDeployment) -> None:
    claims = verify_access_token(
        fetch_token(stack),
        jwks_url=stack.jwks_url,
        issuer=stack.issuer_url,
        audience=CLIENT["audience"],
        required_scope="read:reports",
    )
    assert claims["gty"] == "client_credentials"
