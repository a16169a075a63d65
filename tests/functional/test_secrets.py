"""Known secrets never leave: every function on every sample event, a failing third party
that echoes the key back, and a bad request, with every log line and reply inspected for the
API key and for the private signing key material."""

from __future__ import annotations

import json
from pathlib import Path

from claimflow.environment import SsmPaths
from claimflow.infra.ssm import SsmParameterStore
from claimflow.keys.manager import KeyManager
from claimflow_local.hook_callers import signed_event
from claimflow_local.stack.deployment import LocalDeployment
from tests.support import EVENTS, function_for_event

SETTINGS = json.loads((Path(__file__).parents[2] / "local" / "settings.json").read_text())
API_KEY = SETTINGS["env"]["shared"]["API_KEY"]["value"]
HOOK_SECRETS = [hook["secret"] for hook in SETTINGS["hooks"].values() if "secret" in hook]
FUNCTION_FOR = {path.name: function_for_event(path.name) for path in sorted(EVENTS.glob("*.json"))}


def test_no_secret_reaches_a_log_line_an_error_or_a_reply(tmp_path: Path) -> None:
    log_path = tmp_path / "functions.log"
    replies: list[str] = []
    with log_path.open("w") as log, LocalDeployment(log=log, env_vars={"Parameters": {"POWERTOOLS_LOG_LEVEL": "DEBUG"}}) as stack:
        assert stack.ssm is not None and stack.third_party is not None
        keyset = KeyManager(SsmParameterStore(client=stack.ssm.client(), max_age=0), SsmPaths(stage="local")).load()
        assert keyset is not None
        private_parts = [str(key.jwk[p]) for key in keyset.keys for p in ("d", "p", "q", "dp", "dq", "qi") if p in key.jwk]
        client = stack.lambda_client()

        def invoke_all() -> None:
            for event, function in FUNCTION_FOR.items():
                payload = (EVENTS / event).read_bytes()
                if event.startswith("hooks."):  # as the stack sends it, with its secret or signature
                    payload = json.dumps(signed_event(json.loads(payload), stack.settings)).encode()
                response = client.invoke(FunctionName=function, Payload=payload)
                replies.append(response["Payload"].read().decode())

        invoke_all()
        stack.third_party.configure(status=502, raw_body=json.dumps({"error": f"key {API_KEY} rejected"}).encode())
        invoke_all()
        replies.append(
            client.invoke(FunctionName="IssuerFunction", Payload=b'{"secret": "%s"}' % API_KEY.encode())["Payload"]
            .read()
            .decode()
        )
    logs = log_path.read_text()
    assert "addThirdPartyDataUsingEnvs" in logs and "answered HTTP 502" in logs  # the logs are there to inspect
    everything = logs + "\n".join(replies)
    assert API_KEY not in everything
    for part in private_parts:
        assert part not in everything
    for secret in HOOK_SECRETS:  # each hook's shared secret, which its stack's calls carry or sign with
        assert secret not in everything and secret.removeprefix("v1,whsec_") not in everything
    assert len(private_parts) >= 3
