"""The claims-hook endpoint: the issuer's Function URL, routed by path to ``/hooks/<route>``.

Every call is authenticated before anything runs; then the stack's request becomes a token
request, the trigger's workflows run under the same runner, rules and budget as a minted token
(what the stack locks is reserved), and the answer is the stack's own shape. Nothing is signed.
Only the hooks named in ``ClaimsHooks`` (``CLAIMFLOW_CLAIMS_HOOKS``) answer; each reads its
shared secret from ``/claimflow/<stage>/hooks/<route>/secret`` (SecureString).

Before a call is authenticated it learns nothing: an unknown route is a bare 404, a refused
call (missing, malformed or wrong proof, a stale or future timestamp, a replay, no secret
configured) a bare 401 ``invalid_client``; why goes to the log (secrets redacted). A secret or
replay store that cannot be read refuses the call (fail closed): 503 ``temporarily_unavailable``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Collection, Mapping
from typing import Any

from claimflow.environment import SsmPaths
from claimflow.errors import ClaimflowError, ContractError
from claimflow.infra.logs import logger_for
from claimflow.infra.parameters import ParameterStore
from claimflow.infra.secrets import SecretRegistry
from claimflow.issuer.errors import HookAuthenticationError
from claimflow.issuer.hooks.base import HookAnswer, HttpClaimsHook, reserved_by
from claimflow.issuer.hooks.replay import ReplayStore
from claimflow.issuer.service import WorkflowRunner
from claimflow.wire.contracts import parse_document

__all__ = ["MAX_BODY_BYTES", "HookEndpoint", "is_http_event"]

_log = logger_for("claimflow-claims-hooks")
MAX_BODY_BYTES = 256 * 1024
_PREFIX = "/hooks/"
_UNAVAILABLE = "the issuer cannot check claims-hook calls right now; try again"


def is_http_event(event: Any) -> bool:
    """A Function URL (payload 2.0) request."""
    return isinstance(event, Mapping) and isinstance((event.get("requestContext") or {}).get("http"), Mapping)


class HookEndpoint:
    def __init__(
        self,
        hooks: Mapping[str, HttpClaimsHook],
        runner: WorkflowRunner,
        store: ParameterStore,
        *,
        replays: ReplayStore,
        enabled: Collection[str],
        budget_ms: int,
        paths: SsmPaths,
        secrets: SecretRegistry,
    ) -> None:
        self.hooks = {route: hook for route, hook in hooks.items() if route in enabled}
        self.runner = runner
        self.store = store
        self.replays = replays
        self.budget_ms = budget_ms
        self.paths = paths
        self.secrets = secrets

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        method = str(event["requestContext"]["http"].get("method", "")).upper()
        route = _route(event.get("rawPath"))
        hook = self.hooks.get(route)
        if hook is None:
            return _answer(404, {"error": "not_found"})
        if method != "POST":
            return _answer(405, {"error": "method_not_allowed"}, allow="POST")
        deadline = started + min(self.budget_ms, hook.budget_ms) / 1000
        body = _body(event)
        if isinstance(body, tuple):
            return _answer(*body)
        headers = event.get("headers")
        try:
            self._authenticate(route, hook, headers if isinstance(headers, Mapping) else {}, body, deadline=deadline)
        except HookAuthenticationError as error:
            _log.warning("claims hook call refused", extra={"hook": route, "reason": str(error)})
            return _answer(401, {"error": "invalid_client"})
        except ClaimflowError as error:  # the secret or the replay store could not be read: refuse (fail closed)
            _log.error(
                "claims hook call could not be authenticated",
                extra={"hook": route, "error": error.error_code, "error_type": type(error).__name__, "cause": str(error)},
            )
            if error.error_code == "temporarily_unavailable":
                return _answer(503, {"error": "temporarily_unavailable", "error_description": _UNAVAILABLE})
            return _answer(500, {"error": "server_error", "error_description": "internal error in the issuer"})
        try:
            document = parse_document(body)
        except ContractError as error:
            return _answer(400, {"error": "invalid_request", "error_description": error.description})
        return _answer(*self._customize(hook, document, deadline=deadline))

    def _authenticate(
        self, route: str, hook: HttpClaimsHook, headers: Mapping[str, Any], body: bytes, *, deadline: float
    ) -> None:
        """Return if the call is the stack's own and its first use; raise otherwise."""
        single_use = hook.authentication.verify(self._secret(route, deadline=deadline), headers, body)
        if single_use is not None and not self.replays.first_use(f"{route}#{single_use.key}", until=single_use.until):
            raise HookAuthenticationError(f"the {route} hook's call was already used (a replay)")

    def _customize(self, hook: HttpClaimsHook, document: Any, *, deadline: float) -> HookAnswer:
        try:
            if not isinstance(document, Mapping):
                raise ContractError(f"a {hook.name} call is a JSON object")
            request = hook.token_request(document)
            merged = self.runner.customize(request, reserved=reserved_by(hook, request.tokens), deadline=deadline)
        except ClaimflowError as error:
            # The caller sees the public description; the operator sees the cause (secrets redacted).
            _log.warning(f"{hook.name} claims refused", extra={"error": error.error_code, "cause": str(error)})
            return hook.refusal(document if isinstance(document, Mapping) else {}, error)
        return hook.reply(document, request, merged)

    def _secret(self, route: str, *, deadline: float) -> str:
        name = self.paths.hook_secret(route)
        parameter = self.store.get(name, deadline=deadline)
        if parameter is None or not parameter.value:
            raise HookAuthenticationError(f"the {route} hook has no secret at {name}; set it with claimflow env or SSM")
        self.secrets.add(parameter.value)
        return parameter.value


def _route(raw_path: Any) -> str:
    """``<route>`` of ``/hooks/<route>[/]``; empty for any other path."""
    path = raw_path if isinstance(raw_path, str) else ""
    return path[len(_PREFIX) :].rstrip("/") if path.startswith(_PREFIX) else ""


def _body(event: Mapping[str, Any]) -> bytes | HookAnswer:
    """The raw body, as the caller signed it, or the answer refusing it."""
    raw = event.get("body") or ""
    text = raw if isinstance(raw, str) else str(raw)
    too_large: HookAnswer = (413, {"error": "invalid_request", "error_description": f"body over {MAX_BODY_BYTES} bytes"})
    if len(text) > 2 * MAX_BODY_BYTES:  # not even decoded (base64 adds a third)
        return too_large
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(text, validate=True)
        except ValueError:
            return 400, {"error": "invalid_request", "error_description": "the body is not valid base64"}
    else:
        body = text.encode("utf-8", errors="surrogatepass")  # a lone surrogate: bytes no JSON parser takes
    return too_large if len(body) > MAX_BODY_BYTES else body


def _answer(status: int, body: dict[str, Any] | None, *, allow: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store", **({"Allow": allow} if allow else {})}
    return {"statusCode": status, "headers": headers, "body": "" if body is None else json.dumps(body, separators=(",", ":"))}
