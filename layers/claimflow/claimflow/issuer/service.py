"""The issuer's use case: validate the request, mint standard claims, run the trigger's
workflows concurrently under their deadlines and the issuance budget, merge, sign.

No AWS here: the invoker and the key provider are ports handed in by the composition root.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from claimflow.claims import check_patch
from claimflow.errors import ClaimflowError
from claimflow.issuer.errors import TokenRequestError, TokenTooLargeError, WorkflowInvocationError
from claimflow.issuer.invoker import WorkflowInvoker
from claimflow.issuer.policy import ClaimConflict, Merged, WorkflowRun, merge_runs
from claimflow.issuer.registry import WorkflowRegistration, WorkflowRegistry
from claimflow.issuer.request import IssuerConfig, TokenRequest, mint_standard_claims, parse_token_request
from claimflow.issuer.signing import KeyProvider
from claimflow.tokens import TOKENS, TokenKind, tokens_for
from claimflow.wire.contracts import WORKFLOW_INVOCATION, WorkflowReport

__all__ = ["IssuedTokens", "TokenIssuer", "WorkflowRunner", "invocation_payload"]


@dataclass(frozen=True)
class IssuedTokens:
    tokens: dict[TokenKind, str]
    lead: TokenKind  # the token the reply carries as access_token
    claims: dict[TokenKind, dict[str, Any]]
    expires_in: int
    scope: str
    report: list[WorkflowReport]
    conflicts: list[ClaimConflict]
    skipped_failures: int


class TokenIssuer:
    def __init__(
        self,
        *,
        config: IssuerConfig,
        registry: WorkflowRegistry,
        invoker: WorkflowInvoker,
        keys: KeyProvider,
        clock: Callable[[], float] = time.time,
        new_jti: Callable[[], str] | None = None,
        max_concurrency: int = 16,
    ) -> None:
        self.config = config
        self.keys = keys
        self.workflows = WorkflowRunner(registry, invoker, max_concurrency=max_concurrency)
        self._clock = clock
        self._new_jti = new_jti

    def issue(self, document: Any) -> IssuedTokens:
        deadline = time.monotonic() + self.config.issuance_budget_ms / 1000
        request = parse_token_request(document, self.config)
        for token_name, claims in request.claims.items():
            try:
                check_patch(TokenKind(token_name), claims)
            except ClaimflowError as error:
                raise TokenRequestError(f"claims.{token_name}: {error}") from None
        options = {"new_jti": self._new_jti} if self._new_jti else {}
        minted = mint_standard_claims(request, self.config, clock=self._clock, **options)
        signer = self.keys.signer()  # before any workflow runs: no key, no point invoking them

        merged = self.workflows.customize(request, owned=minted, deadline=deadline)

        final = {kind: {**merged.claims[kind], **minted[kind]} for kind in request.tokens}
        tokens = {kind: signer.sign(final[kind], typ=TOKENS[kind].typ) for kind in request.tokens}
        for kind, token in tokens.items():
            if len(token) > self.config.max_token_bytes:
                raise TokenTooLargeError(
                    f"the {kind.value} would be {len(token)} bytes; the limit is {self.config.max_token_bytes}. "
                    "Workflows added too much: store large data elsewhere and put a reference in the token"
                )
        lead = request.lead
        return IssuedTokens(
            tokens=tokens,
            lead=lead,
            claims=final,
            expires_in=int(minted[lead]["exp"] - minted[lead]["iat"]),
            scope=" ".join(request.scope),
            report=merged.report,
            conflicts=merged.conflicts,
            skipped_failures=merged.skipped_failures,
        )


def invocation_payload(
    registration: WorkflowRegistration, request: TokenRequest, *, correlation_id: str, timeout_ms: int
) -> dict[str, Any]:
    """The workflow invocation request (contract v1) the issuer sends one workflow."""
    return {
        "contract": WORKFLOW_INVOCATION,
        "workflow_id": registration.id,
        "trigger": request.trigger.value,
        "correlation_id": correlation_id,
        "deadline_ms": max(1, timeout_ms),
        "event": request.event,
        "tokens": {t.value: dict(request.claims.get(t.value, {})) for t in tokens_for(request.trigger)},
    }


class WorkflowRunner:
    """Runs the trigger's workflows concurrently under their deadlines and the budget, and
    merges their replies under the rules. Shared by the issuer and the Cognito adapter."""

    def __init__(self, registry: WorkflowRegistry, invoker: WorkflowInvoker, *, max_concurrency: int = 16) -> None:
        self.registry = registry
        self.invoker = invoker
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="claimflow-workflow")

    def customize(self, request: TokenRequest, *, owned: Mapping[TokenKind, Collection[str]], deadline: float) -> Merged:
        """The custom claims per token after every workflow's patch, or a denial/failure raised.
        ``owned``: the claims each token's issuer owns, which no workflow may set."""
        return merge_runs(self.run(request, deadline=deadline), tokens=request.tokens, base=request.claims, owned=owned)

    def run(self, request: TokenRequest, *, deadline: float) -> list[WorkflowRun]:
        """Invoke every workflow registered for the request's trigger, all at once."""
        registrations = self.registry.for_trigger(request.trigger)
        correlation_id = request.correlation_id or str(uuid.uuid4())
        started = time.monotonic()
        pending: list[tuple[WorkflowRegistration, float, Future[WorkflowRun]]] = []
        for registration in registrations:
            own_deadline = min(deadline, started + registration.timeout_ms / 1000)
            timeout_ms = int((own_deadline - started) * 1000)
            payload = invocation_payload(registration, request, correlation_id=correlation_id, timeout_ms=timeout_ms)
            pending.append((registration, own_deadline, self._pool.submit(self._invoke, registration, payload, timeout_ms)))
        runs: list[WorkflowRun] = []
        for registration, own_deadline, future in pending:  # all run at once; waiting in order is fine
            try:
                runs.append(future.result(timeout=max(0.0, own_deadline - time.monotonic())))
            except FutureTimeout:
                waited = (time.monotonic() - started) * 1000
                limit = "issuance budget" if own_deadline == deadline else "workflow deadline"
                runs.append(
                    WorkflowRun(registration, failure=f"did not answer within {waited:.0f} ms ({limit})", duration_ms=waited)
                )
        return runs

    def _invoke(self, registration: WorkflowRegistration, payload: Mapping[str, Any], timeout_ms: int) -> WorkflowRun:
        started = time.perf_counter()
        try:
            reply = self.invoker.invoke(registration.id, registration.function, payload, timeout=timeout_ms / 1000)
        except WorkflowInvocationError as error:
            return WorkflowRun(registration, failure=error.cause, duration_ms=(time.perf_counter() - started) * 1000)
        return WorkflowRun(registration, reply=reply, duration_ms=(time.perf_counter() - started) * 1000)
