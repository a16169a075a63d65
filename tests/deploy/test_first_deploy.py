"""A safe first deploy: the built functions with every template parameter at its default (the
stage a guided deploy that took every default makes) issue tokens, and the ten-line snippet of
docs/deploying.md verifies them against the JWKS the JWKS function serves. The functions run
through the local emulator, SSM is moto's server, the key set is made as the rotation function's
first run makes it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claimflow_local.stack.deployment import LocalDeployment
from claimflow_local.template import SamTemplate
from tests.support import EVENTS, ROOT

DEFAULTS = SamTemplate.load(ROOT / "template.yaml").parameters()  # every parameter at its Default
GUIDE = ROOT / "docs" / "deploying.md"


def stage_with(tmp: Path, **overrides: str) -> LocalDeployment:
    """The stage the defaults deploy (dev), nothing seeded in its SSM: no variables, no secrets."""
    settings = tmp / "settings.json"
    settings.write_text(json.dumps({"stage": DEFAULTS["Stage"]}))
    return LocalDeployment(
        settings_path=settings, parameter_overrides={**DEFAULTS, **overrides}, warm=False, log=open(os.devnull, "w")
    )


@pytest.fixture(scope="module")
def default_stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    with stage_with(tmp_path_factory.mktemp("defaults")) as stack:
        yield stack


def invoke(stack: LocalDeployment, event: str) -> dict[str, Any]:
    """What `aws lambda invoke --payload file://events/<event>` gets from the issuer's live alias."""
    response = stack.lambda_client().invoke(FunctionName="IssuerFunction:live", Payload=(EVENTS / event).read_bytes())
    reply: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, reply
    return reply


def guide_snippet() -> str:
    """The guide's verification snippet, as a reader copies it."""
    blocks: list[str] = re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(), re.M | re.S)
    found = [block for block in blocks if "PyJWKClient" in block]
    assert len(found) == 1, "docs/deploying.md: one python block verifying a token with PyJWKClient"
    assert len(found[0].strip().splitlines()) <= 10
    return found[0]


def test_a_stage_deployed_with_defaults_issues_its_first_token(default_stage: LocalDeployment, tmp_path: Path) -> None:
    reply = invoke(default_stage, "issuer.user-token.json")
    print(f"\nfirst token request, default parameters: {json.dumps(reply, indent=1)}")
    assert "error" not in reply, reply
    assert reply["token_type"] == "Bearer" and reply["expires_in"] == int(DEFAULTS["AccessTokenTtlSeconds"])
    assert reply["access_token"] and reply["id_token"]
    assert reply["workflows"] == []  # no example runs outside Stage local

    script = tmp_path / "verify.py"
    script.write_text(guide_snippet())
    verified = subprocess.run(
        [sys.executable, str(script), reply["access_token"], default_stage.issuer_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    subject, issuer, _ = verified.stdout.split()
    assert subject == json.loads((EVENTS / "issuer.user-token.json").read_text())["subject"]
    assert issuer == default_stage.issuer_url


def test_a_stage_deployed_with_defaults_issues_m2m_tokens(default_stage: LocalDeployment) -> None:
    reply = invoke(default_stage, "issuer.m2m-token.json")
    assert "error" not in reply and reply["access_token"], reply
    assert reply["workflows"] == []
