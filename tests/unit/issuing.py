"""Builders for issuer unit tests: an issuer over in-process workflow handlers and an
in-memory parameter store holding a real key set."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from claimflow.environment import SsmPaths
from claimflow.infra.parameters import InMemoryParameterStore
from claimflow.issuer import InProcessWorkflowInvoker, IssuerConfig, TokenIssuer, WorkflowRegistration, WorkflowRegistry
from claimflow.keys import KeyProvider
from claimflow.keys.manager import KeyManager
from claimflow.wire.contracts import WORKFLOW_INVOCATION
from tests.support import sample

PATHS = SsmPaths(stage="test")
Handler = Callable[[dict[str, Any], Any], Any]


def reply(
    workflow_id: str,
    outcome: str = "ok",
    *,
    access: dict[str, Any] | None = None,
    reset: bool = False,
    reason: str | None = None,
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "contract": WORKFLOW_INVOCATION,
        "workflow_id": workflow_id,
        "outcome": outcome,
        "patches": {"access_token": {"set": access or {}, "reset": reset}} if outcome == "ok" else {},
        "reason": reason,
        "error": error,
        "duration_ms": 1.0,
    }


def patching(workflow_id: str, claims: dict[str, Any], *, sleep: float = 0.0, reset: bool = False) -> Handler:
    def handler(payload: dict[str, Any], context: Any) -> dict[str, Any]:
        time.sleep(sleep)
        return reply(workflow_id, access=claims, reset=reset)

    return handler


def failing(workflow_id: str) -> Handler:
    """A workflow whose third party answered 500."""
    error = {"type": "FetchError", "code": "temporarily_unavailable", "message": "fetch https://x: answered HTTP 500"}
    return lambda payload, context: reply(workflow_id, "failed", error=error)


def keyed_store(alg: str = "RS256") -> InMemoryParameterStore:
    store = InMemoryParameterStore()
    KeyManager(store, PATHS).init(alg=alg)
    return store


def issuer_with(
    workflows: list[tuple[str, Handler, str]],
    *,
    store: InMemoryParameterStore | None = None,
    timeout_ms: int = 2000,
    **config: Any,
) -> TokenIssuer:
    """``workflows``: (id, handler, failure policy) in merge order, all on the user trigger."""
    registry = WorkflowRegistry(
        [
            WorkflowRegistration(
                id=wid,
                trigger="user:tokens_generation",
                function=f"fn-{wid}",  # type: ignore[arg-type]
                failure_policy=policy,
                timeout_ms=timeout_ms,
            )  # type: ignore[arg-type]
            for wid, _, policy in workflows
        ]
    )
    return TokenIssuer(
        config=IssuerConfig(issuer_url="https://issuer.test", **config),
        registry=registry,
        invoker=InProcessWorkflowInvoker({f"fn-{wid}": handler for wid, handler, _ in workflows}),
        keys=KeyProvider(store or keyed_store(), PATHS.signing_keyset),
        clock=lambda: 1_800_000_000,
    )


def user_request(**changes: Any) -> dict[str, Any]:
    request = copy.deepcopy(sample("issuer.user-token.json"))
    request.update(changes)
    return request
