"""``claimflow preview --event FILE [--against local|STACK] [--json]``: a dry run of a
trigger. Each registered workflow runs on the event (outcome, duration, the claims it
changed), then the issuer signs, and the final claims and token sizes are shown. Exit
status 1 on a denial or a failure."""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from claimflow.claims import NOTHING_RESERVED
from claimflow.errors import ClaimflowError
from claimflow.issuer.config import IssuerConfig, config_from_environment, registry_from_environment
from claimflow.issuer.hooks import reserved_by
from claimflow.issuer.policy import WorkflowRun, merge_runs
from claimflow.issuer.request import parse_token_request
from claimflow.issuer.service import invocation_payload
from claimflow.tokens import TOKENS
from claimflow.wire.contracts import TOKEN_REQUEST, WORKFLOW_INVOCATION
from claimflow_local.cli.errors import CommandError, aws_client, reaching_aws
from claimflow_local.stack.local_state import reload_failure, running_dev
from claimflow_local.stack.ssm import load_settings
from claimflow_local.template import SamTemplate

__all__ = ["Preview", "PreviewError", "preview", "read_token_request", "render"]


@dataclass
class WorkflowPreview:
    id: str
    outcome: str
    duration_ms: float
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)  # token -> claim -> new value
    detail: str = ""
    fetch_errors: list[dict[str, Any]] = field(default_factory=list)  # fetches that answered 4xx/5xx (redacted)


@dataclass
class Preview:
    trigger: str
    workflows: list[WorkflowPreview]
    error: str | None = None
    final_claims: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_bytes: dict[str, int] = field(default_factory=dict)
    signed_by: str = "claimflow"  # a claims hook's stack signs its own tokens
    hook_answer: dict[str, Any] | None = None  # locally: the hook's HTTP answer to the sample, signed now

    @property
    def ok(self) -> bool:
        answered = self.hook_answer is None or self.hook_answer["status"] == 200
        return self.error is None and answered and all(w.outcome == "ok" for w in self.workflows)


def _claims(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    return payload


class _LocalLambdaApi:
    """The two Lambda calls preview makes, against a local stack's Invoke API (the emulator),
    over plain HTTP: no boto3 to import, so a preview against make dev answers in well under a second."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")

    def _call(self, method: str, path: str, body: bytes | None = None) -> tuple[bytes, Mapping[str, str]]:
        request = urllib.request.Request(f"{self.endpoint}{path}", data=body, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.read(), dict(answer.headers.items())
        except urllib.error.HTTPError as error:
            raise PreviewError(f"the local Lambda API answered {error.code} for {path}: {error.read()[:300]!r}") from None
        except OSError as error:
            raise PreviewError(f"cannot reach the local Lambda API at {self.endpoint}: {error}") from None

    def get_function_configuration(self, *, FunctionName: str) -> Any:
        return json.loads(self._call("GET", f"/2015-03-31/functions/{FunctionName}/configuration")[0])

    def invoke(self, *, FunctionName: str, Payload: bytes) -> dict[str, Any]:
        body, headers = self._call("POST", f"/2015-03-31/functions/{FunctionName}/invocations", Payload)
        reply: dict[str, Any] = {"Payload": io.BytesIO(body)}
        error = next((v for k, v in headers.items() if k.lower() == "x-amz-function-error"), None)
        if error:
            reply["FunctionError"] = error
        return reply


@dataclass(frozen=True)
class _LocalHooks:
    """Where a local stack answers claims hooks, and the settings its callers sign with."""

    settings: Mapping[str, Any]
    url: str


@contextmanager
def _target(against: str, root: Path) -> Iterator[tuple[Any, str, _LocalHooks | None]]:
    """A Lambda client, the issuer's function name and (locally) where its hooks answer: the
    running make dev, a stack of its own when none runs, or a deployed stack."""
    if against == "local":
        dev = running_dev(root)
        if dev is not None:
            stale = reload_failure(root, pid=dev.pid)
            if stale is not None:  # what runs is not the code on disk: say so before its results
                print(f"(make dev is serving its last good build, not the code on disk: {stale})", file=sys.stderr)
            settings = load_settings(root / "local" / "settings.json")  # the hooks' callers sign with its secrets
            hooks = _LocalHooks(settings, dev.urls["hooks"]) if "hooks" in dev.urls else None
            yield _LocalLambdaApi(dev.urls["lambda"]), "IssuerFunction", hooks
            return
        from claimflow_local.stack.deployment import BuildError, LocalDeployment
        from claimflow_local.stack.ssm import EmbeddedSsmError, SettingsError
        from claimflow_local.stack.third_party import RoutesError

        started = time.perf_counter()
        try:
            with open(os.devnull, "w") as sink, LocalDeployment(root=root, log=sink) as stack:
                print(
                    f"(no make dev runs for {root}: this preview started a stack of its own in "
                    f"{time.perf_counter() - started:.1f} s; with make dev running it takes well under a second)",
                    file=sys.stderr,
                )
                assert stack.emulator is not None
                yield _LocalLambdaApi(stack.emulator.endpoint_url), "IssuerFunction", _LocalHooks(stack.settings, stack.hooks_url)
        except (BuildError, EmbeddedSsmError, SettingsError, RoutesError) as error:
            raise PreviewError(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__) from None
        return

    with reaching_aws(local=False, service="CloudFormation", hint="or preview locally with --against local (the default)"):
        stacks = aws_client("cloudformation").describe_stacks(StackName=against)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if "IssuerFunctionName" not in outputs:
        raise PreviewError(f"stack {against} has no IssuerFunctionName output; is it a claimflow stack?")
    yield aws_client("lambda"), outputs["IssuerFunctionName"], None


def _invoke(client: Any, function: str, payload: Mapping[str, Any]) -> tuple[Any, float, str | None]:
    started = time.perf_counter()
    response = client.invoke(FunctionName=function, Payload=json.dumps(payload).encode())
    body = json.loads(response["Payload"].read())
    return body, (time.perf_counter() - started) * 1000, response.get("FunctionError")


class PreviewError(CommandError):
    """The event given to preview is not a token request it can run."""


def _samples(root: Path) -> str:
    found = sorted(p.name for p in (root / "events").glob("issuer.*.json"))
    return ", ".join(f"events/{name}" for name in found) or "events/issuer.user-token.json"


def read_token_request(event_path: Path, root: Path) -> dict[str, Any]:
    """The token request in ``event_path``; any other event is refused naming what it is for."""
    try:
        document = json.loads(event_path.read_text())
    except FileNotFoundError:
        raise PreviewError(f"no event file at {event_path}; preview takes a token request such as {_samples(root)}") from None
    except (OSError, ValueError) as error:
        raise PreviewError(f"cannot read {event_path} as JSON: {error}") from None
    if not isinstance(document, dict):
        raise PreviewError(f"{event_path} holds a JSON {type(document).__name__}, not a token request")
    if document.get("contract") == TOKEN_REQUEST or _hook_route(document):
        return document
    invoke = f"`.venv-sam/bin/sam local invoke {{function}} -e {event_path}` (with Docker)"
    if document.get("contract") == WORKFLOW_INVOCATION:
        registered = {entry.id: entry.function for entry in SamTemplate.load(root / "template.yaml").registry()}
        function = registered.get(str(document.get("workflow_id")), "the workflow's function")
        what = f"a workflow invocation for {function} (workflow {document.get('workflow_id')})"
        hint = invoke.format(function=function)
    elif "triggerSource" in document:
        what, hint = "a Cognito trigger event for IssuerFunction", invoke.format(function="IssuerFunction")
    elif "requestContext" in document or "rawPath" in document:
        what, hint = "an HTTP event for JwksFunction (its Function URL)", invoke.format(function="JwksFunction")
    else:
        raise PreviewError(f"{event_path} is not a token request (contract {TOKEN_REQUEST}); try {_samples(root)}")
    raise PreviewError(f"{event_path} is {what}: run it with {hint}; preview takes a token request such as {_samples(root)}")


def _hook_route(document: Mapping[str, Any]) -> str | None:
    """The claims hook a Function URL event calls (``/hooks/<route>``), if it is one."""
    path = str(document.get("rawPath", ""))
    return path.removeprefix("/hooks/").strip("/") if path.startswith("/hooks/") else None


def _hook(route: str, config: IssuerConfig) -> Any:
    from claimflow.issuer.hooks.roster import http_hook

    try:
        return http_hook(route, config)
    except KeyError as error:
        raise PreviewError(str(error.args[0])) from None


def preview(event_path: Path, *, against: str = "local", root: Path = Path(".")) -> Preview:
    """A token request runs as the issuer runs it, then the issuer signs. A claims-hook call
    (``events/hooks.*``: the stack's request at ``/hooks/<route>``) runs the same workflows for
    that stack's request; the stack signs, so the result is the claims the hook would answer."""
    document = read_token_request(event_path, root)
    route = _hook_route(document)
    with _target(against, root) as (client, issuer, stack):
        variables = client.get_function_configuration(FunctionName=issuer)["Environment"]["Variables"]
        # The same request, event and invocations the issuer builds, from the issuer's own configuration.
        config = config_from_environment(variables)
        hook = _hook(route, config) if route else None
        try:
            request = hook.token_request(json.loads(document["body"])) if hook else parse_token_request(document, config)
        except ClaimflowError as error:
            raise PreviewError(f"{event_path}: {error}") from None
        reserved = reserved_by(hook, request.tokens) if hook else NOTHING_RESERVED
        registry = registry_from_environment(variables)
        runs = []
        replies: list[WorkflowRun] = []  # what the issuer's own merge takes, for a hook's final claims
        for registration in registry.for_trigger(request.trigger):
            payload = invocation_payload(
                registration, request, correlation_id="claimflow-preview", timeout_ms=registration.timeout_ms, reserved=reserved
            )
            reply, elapsed, function_error = _invoke(client, registration.function, payload)
            if function_error:
                detail = f"{reply.get('errorType')}: {reply.get('errorMessage')}"
                runs.append(WorkflowPreview(registration.id, "failed", elapsed, detail=detail))
                replies.append(WorkflowRun(registration, failure=f"function error: {detail}", duration_ms=elapsed))
                continue
            replies.append(WorkflowRun(registration, reply=reply, duration_ms=elapsed))
            changes = {token: dict(patch["set"]) for token, patch in reply.get("patches", {}).items() if patch["set"]}
            detail = reply.get("reason") or (_failure(reply["error"]) if reply.get("error") else "")
            fetch_errors = list(reply.get("fetch_errors") or [])
            runs.append(WorkflowPreview(registration.id, reply["outcome"], round(elapsed, 1), changes, detail, fetch_errors))
        answer = {} if hook else _invoke(client, issuer, document)[0]
        hook_answer: dict[str, Any] | None = None
        if hook is not None and stack is not None:  # the sample as the stack sends it, signed now
            from claimflow_local.hook_callers import send, signed_event

            try:
                signed = signed_event(document, stack.settings)
            except KeyError as error:
                raise PreviewError(f"{event_path}: {error.args[0]}") from None
            status, body = send(signed, stack.url)
            hook_answer = {"status": status, "body": body}
    result = Preview(request.trigger.value, runs)
    if hook is not None:  # the stack signs: the claims the hook answers, merged by the issuer's own rules
        try:
            merged = merge_runs(replies, tokens=request.tokens, base=request.claims, reserved=reserved)
        except ClaimflowError as error:  # a denial, or a stop failure: the hook refuses
            result.error = f"{error.error_code}: {error.description}"
        else:
            result.final_claims = {kind.value: claims for kind, claims in merged.claims.items()}
        result.signed_by = hook.name
        result.hook_answer = hook_answer
        return result
    if "error" in answer:
        result.error = f"{answer['error']}: {answer['error_description']}"
        return result
    for name in sorted({spec.reply_field for spec in TOKENS.values()}):
        if name in answer:
            result.final_claims[name] = _claims(answer[name])
            result.token_bytes[name] = len(answer[name])
    return result


def _failure(error: Mapping[str, Any]) -> str:
    """A workflow's error as the issuer's report line has it: type, message, and where."""
    where = f" at {error['location']}" if error.get("location") else ""
    return f"{error['type']}: {error['message']}{where}"


def render(result: Preview, *, as_json: bool = False) -> str:
    if as_json:
        return json.dumps({**asdict(result), "ok": result.ok}, indent=2)
    lines = [f"trigger {result.trigger}", "", f"{'workflow':34} {'outcome':8} {'ms':>8}  claims it set", "-" * 90]
    for run in result.workflows:
        changes = (
            "; ".join(
                f"{token}: " + ", ".join(f"{k}={json.dumps(v)}" for k, v in claims.items())
                for token, claims in run.changes.items()
            )
            or "—"
        )
        lines.append(f"{run.id:34} {run.outcome:8} {run.duration_ms:8.1f}  {changes}")
        if run.detail:
            lines.append(f"{'':34} {'':8} {'':8}  ↳ {run.detail}")
        for fetched in run.fetch_errors:
            lines.append(f"{'':34} {'':8} {'':8}  ↳ fetch answered HTTP {fetched['status']}: {fetched['url']}")
    lines.append("")
    if result.error:
        lines.append(f"no token: {result.error}")
    for name, claims in result.final_claims.items():
        signed = (
            f"{result.token_bytes[name]} bytes signed"
            if name in result.token_bytes
            else f"claims {result.signed_by} adds and signs"
        )
        lines.append(f"{name} ({signed}): {json.dumps(claims, sort_keys=True)}")
    if result.hook_answer is not None:
        lines.append(f"{result.signed_by} gets HTTP {result.hook_answer['status']}: {json.dumps(result.hook_answer['body'])}")
    return "\n".join(lines)
