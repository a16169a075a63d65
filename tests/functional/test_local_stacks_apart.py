"""Two local stacks in one process keep their own AWS state (issue 23 §7): starting a second
stack neither wipes the first one's parameters nor writes its keys where the first one reads
them, so each stack's tokens verify against its own JWKS, and only its own, throughout."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

import jwt
import pytest

from claimflow_local.stack.deployment import LocalDeployment
from tests.support import ROOT

#: Caches off: each token is signed with what the stack's SSM holds at that moment.
NO_CACHE = {"Parameters": {"CLAIMFLOW_KEYSET_TTL_SECONDS": "0", "CLAIMFLOW_ENV_TTL_SECONDS": "0"}}


def _token(stack: LocalDeployment) -> tuple[str, dict[str, Any]]:
    reply = json.loads(
        stack.lambda_client()
        .invoke(FunctionName="IssuerFunction", Payload=(ROOT / "events" / "issuer.user-token.json").read_bytes())["Payload"]
        .read()
    )
    assert "access_token" in reply, reply
    return reply["access_token"], reply


def _jwks(stack: LocalDeployment) -> dict[str, Any]:
    with urllib.request.urlopen(stack.jwks_url, timeout=10) as answer:
        document: dict[str, Any] = json.loads(answer.read())
    return document


def _verifies(token: str, jwks: dict[str, Any]) -> bool:
    header = jwt.get_unverified_header(token)
    keys = {key["kid"]: key for key in jwks["keys"]}
    if header["kid"] not in keys:
        return False
    key = jwt.PyJWK.from_dict(keys[header["kid"]])
    try:
        jwt.decode(token, key=key, algorithms=[header["alg"]], options={"verify_aud": False})
    except jwt.InvalidTokenError:
        return False
    return True


@pytest.mark.timeout(300)
def test_two_stacks_in_one_process_each_sign_with_keys_only_their_own_jwks_publishes() -> None:
    with open(os.devnull, "w") as sink, LocalDeployment(root=ROOT, log=sink, env_vars=NO_CACHE) as first:
        token, _ = _token(first)
        assert _verifies(token, _jwks(first))
        assert jwt.decode(token, options={"verify_signature": False})["lifetime_subscriber"] is True
        with LocalDeployment(root=ROOT, log=sink, env_vars=NO_CACHE, build=False) as second:
            own_first, own_second = _jwks(first), _jwks(second)
            assert {k["kid"] for k in own_first["keys"]}.isdisjoint({k["kid"] for k in own_second["keys"]})
            for _ in range(3):  # throughout: every token, from either stack, while both run
                token_first, reply_first = _token(first)
                token_second, _ = _token(second)
                assert _verifies(token_first, _jwks(first)) and not _verifies(token_first, own_second)
                assert _verifies(token_second, _jwks(second)) and not _verifies(token_second, own_first)
                # the first stack's settings are still its own: its workflows still read its API key
                assert [w["outcome"] for w in reply_first["workflows"]] == ["ok", "ok"]
                claims = jwt.decode(token_first, options={"verify_signature": False})
                assert claims["lifetime_subscriber"] is True
        token, _ = _token(first)  # and after the second stack stopped
        assert _verifies(token, _jwks(first))
