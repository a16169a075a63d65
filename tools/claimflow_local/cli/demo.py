"""``make demo`` and ``make dev``: a real signed token through the issuer and the seed's
workflows, on embedded local services, with no AWS account and no Docker.
"""

from __future__ import annotations

import json
import signal
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import jwt

from claimflow.wire.client import IssuerRefusedError
from claimflow_local.stack.deployment import PROJECT_ROOT, LocalDeployment
from claimflow_local.stack.ports import busy_ports, dev_ports
from claimflow_local.stack.token_endpoint import TokenRequestEndpoint

__all__ = ["RECORDINGS", "hook_urls", "run_demo", "run_dev"]

#: Local mode records every login here (git-ignored); ``claimflow replay`` reads it by default.
RECORDINGS = Path(".claimflow") / "recordings"


def _verify(token: str, jwks: dict[str, Any], *, issuer: str, audience: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header = jwt.get_unverified_header(token)
    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    claims = jwt.decode(token, key=key, algorithms=[header["alg"]], audience=audience, issuer=issuer)
    return header, claims


def _section(title: str) -> None:
    print(f"\n── {title} " + "─" * max(0, 72 - len(title)))


def run_demo(*, root: Path = PROJECT_ROOT, result_path: Path | None = None) -> int:
    result_path = result_path or root / "demo-result.json"
    log_path = root / ".demo-functions.log"
    started = time.perf_counter()
    with log_path.open("w") as log, LocalDeployment(root=root, log=log, recordings=root / RECORDINGS) as stack:
        ready_s = time.perf_counter() - started
        issuer = stack.issuer_client()
        request = json.loads((root / "events" / "issuer.user-token.json").read_text())
        timings = {"stack_start_s": round(ready_s, 3)}
        try:
            t0 = time.perf_counter()
            response = issuer.request_tokens(request)
            timings["first_issue_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            t0 = time.perf_counter()
            issuer.request_tokens(request)
            timings["warm_issue_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        except IssuerRefusedError as refused:
            print(f"the issuer refused the token: {refused.error_code}: {refused.description}", file=sys.stderr)
            print(f"(function logs: {log_path})", file=sys.stderr)
            return 1
        with urllib.request.urlopen(stack.jwks_url, timeout=10) as reply:
            jwks = json.loads(reply.read())
        issuer_url = stack.issuer_url
        tokens = {"access_token": response.access_token, "id_token": response.id_token}
        verified: dict[str, Any] = {}
        for name, token in tokens.items():
            if token is None:
                continue
            audience = request["audience"][0] if name == "access_token" else request["client_id"]
            header, claims = _verify(token, jwks, issuer=issuer_url, audience=audience)
            verified[name] = {"header": header, "claims": claims}
            _section(f"{name} (signature verified against {stack.jwks_url})")
            print(token)
            print("header:", json.dumps(header))
            print("claims:", json.dumps(claims, indent=2))
        _section("workflows")
        for run in response.workflows:
            print(f"  {run['id']:34} {run['outcome']:7} {run['duration_ms']:8.1f} ms  policy={run['failure_policy']}")
        _section("timings")
        print("  " + "  ".join(f"{k}={v}" for k, v in timings.items()))
        assert stack.emulator is not None
        print(f"  functions: the built artifacts of .aws-sam/build, run by {', '.join(sorted(stack.emulator.runtime_clients))}")
        subscriber = verified["access_token"]["claims"].get("lifetime_subscriber")
        result = {
            "issuer": issuer_url,
            "jwks_url": stack.jwks_url,
            "jwks": jwks,
            **{k: v for k, v in tokens.items() if v},
            "verified": verified,
            "workflows": response.workflows,
            "timings": timings,
        }
        result_path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {result_path.name}; lifetime_subscriber={subscriber}; function logs in {log_path.name}")
        return 0 if subscriber is True else 1


def hook_urls(base_url: str, enabled: Any) -> str:
    """One banner line per rostered HTTP hook the stack answers: its URL and its stack."""
    from claimflow.issuer.hooks.roster import HTTP_HOOKS

    return "\n".join(f"      {base_url}/hooks/{route:<9} {spec.stack}" for route, spec in HTTP_HOOKS.items() if route in enabled)


def run_dev(*, root: Path = PROJECT_ROOT) -> int:
    try:
        ports = dev_ports()
    except ValueError as error:
        print(f"make dev: {error}", file=sys.stderr)
        return 2
    taken = busy_ports(ports)
    if taken:
        named = ", ".join(f"{port} ({name})" for name, port in taken)
        print(
            f"make dev: port {named} already in use on 127.0.0.1 — is another make dev running? "
            f"Stop it, or move every port: make dev PORT_BASE={ports['token_endpoint'] + 100}",
            file=sys.stderr,
        )
        return 2
    with LocalDeployment(root=root, log=sys.stderr, ports=ports, recordings=root / RECORDINGS) as stack:
        assert stack.emulator is not None and stack.ssm is not None and stack.third_party is not None
        assert stack.oauth is not None
        issuer = stack.issuer_client()
        endpoint = TokenRequestEndpoint(issuer, port=ports["token_endpoint"]).start()
        oauth = stack.oauth
        client_id, client = next(iter(stack.settings.get("example_clients", {}).items()))
        print(
            f"""
claimflow is running locally (Ctrl-C stops it): the built functions (.aws-sam/build), run by
{", ".join(sorted(stack.emulator.runtime_clients))}.

  token endpoint (identity stack):  POST {endpoint.url}
      curl -s {endpoint.url} -H 'Content-Type: application/json' -d @events/issuer.user-token.json
  JWKS:                             {stack.jwks_url}
  metadata (RFC 8414):              {stack.issuer_url}/.well-known/oauth-authorization-server
  Lambda endpoint:                  {stack.emulator.endpoint_url}
      aws lambda invoke --endpoint-url {stack.emulator.endpoint_url} --function-name IssuerFunction \\
          --cli-binary-format raw-in-base64-out --payload file://events/issuer.user-token.json out.json
  embedded SSM:                     {stack.ssm.url}   third-party stand-in: {stack.third_party.url}
  every login is recorded in {RECORDINGS}/:  ./claimflow replay  |  ./claimflow explain TOKEN

  claims hooks (stacks that sign their own tokens; samples in events/hooks.*, signed when used):
{hook_urls(stack.hooks_url, stack.settings.get("hooks", {}))}
      an OpenID provider using them (node-oidc-provider, examples/oidc_provider):  make provider

  example OAuth token endpoint (client credentials, examples/identity_stack):
      curl -s -u {client_id}:{client["secret"]} -d grant_type=client_credentials -d scope=read:reports {oauth.url}
""",
            flush=True,
        )
        stop = {"now": False}
        signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
        try:
            while not stop["now"]:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        endpoint.stop()
    return 0
