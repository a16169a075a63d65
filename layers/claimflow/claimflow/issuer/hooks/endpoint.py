"""The claims-hook endpoint: the issuer's Function URL, routed by path to ``/hooks/<route>``.

Every call is authenticated before anything runs (401 JSON otherwise: a missing or wrong key
or signature, a stale timestamp, a replay); then the stack's request becomes a token request,
the trigger's workflows run under the same runner, rules and budget as a minted token (what the
stack locks is reserved), and the answer is the stack's own shape. Nothing is signed.
Only the hooks named in ``ClaimsHooks`` (``CLAIMFLOW_CLAIMS_HOOKS``) answer; each reads its
shared secret from ``/claimflow/<stage>/hooks/<route>/secret`` (SecureString).
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
from claimflow.issuer.service import WorkflowRunner

__all__ = ["HookEndpoint", "is_http_event"]

_log = logger_for("claimflow-claims-hooks")
MAX_BODY_BYTES = 256 * 1024


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
        enabled: Collection[str],
        budget_ms: int,
        paths: SsmPaths,
        secrets: SecretRegistry,
    ) -> None:
        self.hooks = {route: hook for route, hook in hooks.items() if route in enabled}
        self.runner = runner
        self.store = store
        self.budget_ms = budget_ms
        self.paths = paths
        self.secrets = secrets

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        method = str(event["requestContext"]["http"].get("method", "")).upper()
        route = str(event.get("rawPath", "")).rstrip("/").removeprefix("/hooks/")
        hook = self.hooks.get(route)
        if hook is None:
            enabled = ", ".join(f"/hooks/{r}" for r in sorted(self.hooks)) or "none (set the ClaimsHooks parameter)"
            return _answer(404, {"error": "not_found", "error_description": f"no claims hook here; enabled: {enabled}"})
        if method != "POST":
            return _answer(405, {"error": "method_not_allowed", "error_description": "claims hooks take POST"}, allow="POST")
        raw = event.get("body") or ""
        body = base64.b64decode(raw) if event.get("isBase64Encoded") else str(raw).encode()
        if len(body) > MAX_BODY_BYTES:
            return _answer(413, {"error": "invalid_request", "error_description": f"body over {MAX_BODY_BYTES} bytes"})
        try:
            hook.authentication.verify(self._secret(route), event.get("headers") or {}, body)
        except HookAuthenticationError as error:
            _log.warning("claims hook call refused", extra={"hook": route, "reason": str(error)})
            return _answer(401, {"error": "invalid_client", "error_description": str(error)})
        try:
            document = json.loads(body)
        except ValueError:
            return _answer(400, {"error": "invalid_request", "error_description": "the body is not JSON"})
        return _answer(*self._customize(hook, document))

    def _customize(self, hook: HttpClaimsHook, document: Any) -> HookAnswer:
        deadline = time.monotonic() + min(self.budget_ms, hook.budget_ms) / 1000
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

    def _secret(self, route: str) -> str:
        name = self.paths.hook_secret(route)
        parameter = self.store.get(name)
        if parameter is None:
            raise HookAuthenticationError(f"the {route} hook has no secret at {name}; set it with claimflow env or SSM")
        self.secrets.add(parameter.value)
        return parameter.value


def _answer(status: int, body: dict[str, Any] | None, *, allow: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store", **({"Allow": allow} if allow else {})}
    return {"statusCode": status, "headers": headers, "body": "" if body is None else json.dumps(body, separators=(",", ":"))}
