"""``make demo`` and ``make dev``: a real signed token through the issuer and the seed's
workflows, on embedded local services, with no AWS account and no Docker.

``make dev`` keeps the stack running and reloads what changes (``claimflow_local.stack.reload``);
it prints the report line of each refused token, and stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt

from claimflow.errors import IssuerRefusedError
from claimflow_local.stack.deployment import PROJECT_ROOT, BuildError, LocalDeployment
from claimflow_local.stack.local_state import DevRecord
from claimflow_local.stack.ports import busy_ports, dev_ports
from claimflow_local.stack.reload import HotReload
from claimflow_local.stack.ssm import EmbeddedSsmError, SettingsError
from claimflow_local.stack.third_party import RoutesError
from claimflow_local.stack.token_endpoint import TokenRequestEndpoint

__all__ = ["RECORDINGS", "hook_urls", "report_lines", "run_demo", "run_dev"]

#: What a local stack can fail to start with, each said in one line.
_START_ERRORS = (BuildError, EmbeddedSsmError, SettingsError, RoutesError)
#: Local mode records every login here (git-ignored); ``claimflow replay`` reads it by default.
RECORDINGS = Path(".claimflow") / "recordings"


def _verify(token: str, jwks: dict[str, Any], *, issuer: str, audience: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header = jwt.get_unverified_header(token)
    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    claims = jwt.decode(token, key=key, algorithms=[header["alg"]], audience=audience, issuer=issuer)
    return header, claims


def _section(title: str) -> None:
    print(f"\n── {title} " + "─" * max(0, 72 - len(title)))


def report_lines(workflows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The issuer's report, one line per workflow; a failure with its error (and where), a denial with its reason."""
    lines = []
    for run in workflows:
        detail = run.get("error") or run.get("reason") or ""
        line = f"  {run['id']:34} {run['outcome']:7} {run['duration_ms']:8.1f} ms  policy={run.get('failure_policy', 'stop')}"
        lines.append(f"{line}  {detail}" if detail else line)
    return lines


def _start_error(command: str, error: BaseException) -> int:
    lines = str(error).strip().splitlines() or [type(error).__name__]
    shown = lines[0] if len(lines) == 1 else f"{lines[0]} … {lines[-1].strip()}"
    print(f"{command}: {shown}", file=sys.stderr)
    return 2


def run_demo(*, root: Path = PROJECT_ROOT, result_path: Path | None = None) -> int:
    try:
        return _demo(root=root, result_path=result_path or root / "demo-result.json")
    except _START_ERRORS as error:
        return _start_error("make demo", error)
    except KeyboardInterrupt:
        print("make demo: interrupted", file=sys.stderr)
        return 130


def _demo(*, root: Path, result_path: Path) -> int:
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
            for line in report_lines(refused.workflows):  # the report it points at
                print(line, file=sys.stderr)
            print(f"(function logs, with each failure's traceback: {log_path})", file=sys.stderr)
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
        for line in report_lines(response.workflows):
            print(line)
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


@contextmanager
def _stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM set ``stop``: the stack then stops cleanly, without a
    KeyboardInterrupt unwinding through threads that hold sockets."""
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _observer(out: Any) -> Any:
    """make dev's view of the issuer: each refused token's report line, on its terminal."""

    def observe(function: str, result: Any) -> None:
        if function != "IssuerFunction":
            return
        try:
            reply = json.loads(result.payload)
        except ValueError:
            return
        if not isinstance(reply, dict) or "error" not in reply or not isinstance(reply.get("error"), str):
            return
        lines = [f"token refused: {reply['error']}: {reply.get('error_description', '')}"]
        lines += report_lines([w for w in reply.get("workflows", []) if w.get("outcome") != "ok"])
        with _printing:
            print("\n".join(lines), file=out, flush=True)

    return observe


_printing = threading.Lock()


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
    try:
        return _dev(root=root, ports=ports)
    except _START_ERRORS as error:
        return _start_error("make dev", error)
    except KeyboardInterrupt:  # while the stack started (it stopped what it had started)
        print("make dev: interrupted", file=sys.stderr)
        return 130


def _dev(*, root: Path, ports: Mapping[str, int]) -> int:
    stack = LocalDeployment(
        root=root,
        log=sys.stderr,
        ports=ports,
        # The next token reads what `env set --local` wrote: no environment cache in make dev.
        parameter_overrides={"EnvCacheSeconds": "0"},
        observer=_observer(sys.stdout),
        recordings=root / RECORDINGS,
    )
    stack.start()
    endpoint: TokenRequestEndpoint | None = None
    reload: HotReload | None = None
    stop = threading.Event()
    try:
        assert stack.emulator is not None and stack.ssm is not None and stack.third_party is not None
        assert stack.oauth is not None
        endpoint = TokenRequestEndpoint(stack.issuer_client(), port=ports["token_endpoint"]).start()
        reload = HotReload(stack, out=sys.stdout).start()
        urls = {
            "lambda": stack.emulator.endpoint_url,
            "ssm": stack.ssm.url,
            "token_endpoint": endpoint.url,
            "hooks": stack.hooks_url,  # preview sends hook samples here, signed as their stacks sign them
        }
        DevRecord(os.getpid(), urls, stack.settings["stage"]).write(root)
        with _stopped_by_signals(stop):
            print(_banner(stack, endpoint), flush=True)
            while not stop.wait(0.2):
                pass
    finally:
        print("make dev: stopping", file=sys.stderr, flush=True)
        for part in (reload, endpoint):
            if part is not None:
                part.stop()
        stack.stop()
        DevRecord.remove(root, pid=os.getpid())
    return 0


def _banner(stack: LocalDeployment, endpoint: TokenRequestEndpoint) -> str:
    assert stack.emulator is not None and stack.ssm is not None and stack.third_party is not None and stack.oauth is not None
    client_id, client = next(iter(stack.settings.get("example_clients", {}).items()))
    lambda_url = stack.emulator.endpoint_url
    return f"""
claimflow is running locally (Ctrl-C stops it): the built functions (.aws-sam/build), run by
{", ".join(sorted(stack.emulator.runtime_clients))}. Saving a file under functions/ or layers/, template.yaml or
local/third_party.yaml reloads what changed; the next token runs it.

  token endpoint (identity stack):  POST {endpoint.url}
      curl -s {endpoint.url} -H 'Content-Type: application/json' -d @events/issuer.user-token.json
  a dry run of every workflow:      ./claimflow preview --event events/issuer.user-token.json
  JWKS:                             {stack.jwks_url}
  metadata (RFC 8414):              {stack.issuer_url}/.well-known/oauth-authorization-server
  Lambda endpoint (AWS CLI v2):     {lambda_url}
      AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws lambda invoke --endpoint-url {lambda_url} --region us-east-1 \\
          --function-name IssuerFunction --cli-binary-format raw-in-base64-out \\
          --payload file://events/issuer.user-token.json out.json
  embedded SSM:                     {stack.ssm.url}   (./claimflow env set NAME VALUE --local writes here and lasts)
  third-party stand-in:             {stack.third_party.url}   (routes: local/third_party.yaml)
  every login is recorded in {RECORDINGS}/:  ./claimflow replay  |  ./claimflow explain TOKEN

  claims hooks (stacks that sign their own tokens; samples in events/hooks.*, signed when used):
{hook_urls(stack.hooks_url, stack.settings.get("hooks", {}))}
      an OpenID provider using them (node-oidc-provider, examples/oidc_provider):  make provider

  example OAuth token endpoint (client credentials, examples/identity_stack):
      curl -s -u {client_id}:{client["secret"]} -d grant_type=client_credentials -d scope=read:reports {stack.oauth.url}
"""
