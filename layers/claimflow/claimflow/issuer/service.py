"""The issuer's use case: validate the request, mint standard claims, run the trigger's
workflows concurrently under their deadlines and the issuance budget, merge, sign.

No AWS here: the invoker and the key provider are ports handed in by the composition root.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from claimflow.claims import NOTHING_RESERVED, RESERVED_CLAIMS, Reserved, check_patch
from claimflow.errors import ClaimflowError
from claimflow.infra.spans import NoSpans, Spans
from claimflow.issuer.config import IssuerConfig
from claimflow.issuer.dispatch import Dispatcher, Task
from claimflow.issuer.errors import TokenRequestError, TokenTooLargeError, WorkflowInvocationError
from claimflow.issuer.policy import ClaimConflict, Merged, WorkflowRun, merge_runs
from claimflow.issuer.registry import WorkflowRegistration, WorkflowRegistry
from claimflow.issuer.request import TokenRequest, mint_standard_claims, new_token_id, parse_token_request
from claimflow.issuer.workflow_invoker import WorkflowInvoker
from claimflow.keys.signer import KeyProvider, Signer
from claimflow.settings import FailurePolicy
from claimflow.tokens import TOKENS, TokenKind, tokens_for
from claimflow.wire.contracts import WORKFLOW_INVOCATION, WorkflowReport

if TYPE_CHECKING:
    from claimflow.record.recorder import Recorder

__all__ = ["IssuedTokens", "TokenIssuer", "WorkflowRunner", "invocation_payload"]


@dataclass(frozen=True)
class IssuedTokens:
    tokens: dict[TokenKind, str]
    lead: TokenKind  # the token the reply carries as access_token
    kid: str  # the key that signed them
    alg: str
    claims: dict[TokenKind, dict[str, Any]]
    expires_in: int
    scope: str
    report: list[WorkflowReport]
    conflicts: list[ClaimConflict]
    skipped_failures: int
    correlation_id: str = ""  # what the workflows logged this request under
    #: Each merged workflow's patch per token, in merge order: who set which claim (provenance).
    patches: Mapping[str, Mapping[TokenKind, Mapping[str, Any]]] = field(default_factory=dict)


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
        dispatcher: Dispatcher | None = None,
        spans: Spans | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.config = config
        self.keys = keys
        self.recorder = recorder  # samples token requests into recordings (claimflow.record), off the login path
        self.spans = spans or NoSpans()
        self.workflows = WorkflowRunner(registry, invoker, dispatcher=dispatcher, spans=self.spans)
        self._clock = clock
        self._new_jti = new_jti or new_token_id

    def issue(self, document: Any) -> IssuedTokens:
        deadline = time.monotonic() + self.config.issuance_budget_ms / 1000
        request = parse_token_request(document, self.config)
        if request.correlation_id is None:  # one id for the workflows' log lines and the issuer's
            request = replace(request, correlation_id=str(uuid.uuid4()))
        for token_name, claims in request.claims.items():
            try:
                check_patch(TokenKind(token_name), claims)
            except ClaimflowError as error:
                raise TokenRequestError(f"claims.{token_name}: {error}") from None
        minted = mint_standard_claims(request, self.config, clock=self._clock, new_jti=self._new_jti)
        signer = self.keys.signer(deadline=deadline)  # before any workflow runs: no key, no point invoking them

        # What this token mints beyond the table's reserved names (org_code when the request
        # names an organization): workflows are told, so setting one fails in the workflow.
        reserved = Reserved(claims={kind: frozenset(claims) - RESERVED_CLAIMS[kind] for kind, claims in minted.items()})
        record = self.recorder is not None and self.recorder.sampled()
        waiting = self.recorder.idle if self.recorder is not None else None  # earlier recordings are written then
        runs = self.workflows.run(request, reserved=reserved, deadline=deadline, record=record, waiting=waiting)
        try:
            issued = self._merge_and_sign(request, runs, minted, reserved, signer, deadline)
        except ClaimflowError as refused:
            if record:
                assert self.recorder is not None
                self.recorder.submit(document=document, request=request, runs=runs, reserved=reserved, refused=refused)
            raise
        if record:  # handed over as it is: made into a recording and written off the login path
            assert self.recorder is not None
            self.recorder.submit(document=document, request=request, runs=runs, reserved=reserved, issued=issued)
        return issued

    def _merge_and_sign(
        self,
        request: TokenRequest,
        runs: list[WorkflowRun],
        minted: Mapping[TokenKind, Mapping[str, Any]],
        reserved: Reserved,
        signer: Signer,
        deadline: float,
    ) -> IssuedTokens:
        dropped: dict[str, str] = {}
        while True:
            merged = merge_runs(runs, tokens=request.tokens, base=request.claims, reserved=reserved, dropped=dropped)
            final = {kind: {**merged.claims[kind], **minted[kind]} for kind in request.tokens}
            with self.spans.span("sign", annotations={"alg": signer.alg, "kid": signer.kid}):
                tokens = {kind: signer.sign(final[kind], typ=TOKENS[kind].typ, deadline=deadline) for kind in request.tokens}
            kind = next((kind for kind, token in tokens.items() if len(token) > self.config.max_token_bytes), None)
            if kind is None:
                break
            size = len(tokens[kind])
            culprit = _largest_continue_patch(runs, merged, kind, dropped)
            if culprit is None:
                raise TokenTooLargeError(
                    f"the {kind.value} would be {size} bytes; the limit is {self.config.max_token_bytes}. "
                    "Workflows added too much: store large data elsewhere and put a reference in the token"
                )
            # A continue workflow's claims may not cost the user the token: its patch goes, as a failure of its own.
            dropped[culprit] = f"its claims made the {kind.value} {size} bytes, over the {self.config.max_token_bytes}-byte limit"
        lead = request.lead
        return IssuedTokens(
            tokens=tokens,
            lead=lead,
            kid=signer.kid,
            alg=signer.alg,
            claims=final,
            expires_in=int(minted[lead]["exp"] - minted[lead]["iat"]),
            scope=" ".join(request.scope),
            report=merged.report,
            conflicts=merged.conflicts,
            skipped_failures=merged.skipped_failures,
            correlation_id=request.correlation_id or "",
            patches=merged.patches,
        )


def invocation_payload(
    registration: WorkflowRegistration,
    request: TokenRequest,
    *,
    correlation_id: str,
    timeout_ms: int,
    reserved: Reserved = NOTHING_RESERVED,
    record: bool = False,
) -> dict[str, Any]:
    """The workflow invocation request (contract v1) the issuer sends one workflow."""
    payload = {
        "contract": WORKFLOW_INVOCATION,
        "workflow_id": registration.id,
        "trigger": request.trigger.value,
        "correlation_id": correlation_id,
        "deadline_ms": max(1, timeout_ms),
        "event": request.event,
        "tokens": {t.value: dict(request.claims.get(t.value, {})) for t in tokens_for(request.trigger)},
    }
    if reserved != NOTHING_RESERVED:
        payload["reserved"] = reserved.wire
    if record:  # the reply then carries what the workflow saw and did
        payload["record"] = True
    return payload


def _largest_continue_patch(runs: list[WorkflowRun], merged: Merged, kind: TokenKind, dropped: Mapping[str, str]) -> str | None:
    """The ``continue`` workflow whose merged patch to ``kind`` is largest, or None if none has one."""
    candidates = [
        (len(json.dumps(merged.patches[run.registration.id][kind])), run.registration.id)
        for run in runs
        if run.registration.failure_policy is FailurePolicy.CONTINUE
        and run.registration.id not in dropped
        and merged.patches.get(run.registration.id, {}).get(kind)
    ]
    return max(candidates)[1] if candidates else None


class WorkflowRunner:
    """Runs the trigger's workflows concurrently under their deadlines and the budget, and
    merges their replies under the rules. Shared by the issuer and the claims hooks."""

    def __init__(
        self,
        registry: WorkflowRegistry,
        invoker: WorkflowInvoker,
        *,
        dispatcher: Dispatcher | None = None,
        spans: Spans | None = None,
    ) -> None:
        self.registry = registry
        self.invoker = invoker
        self.dispatcher = dispatcher or Dispatcher()
        self.spans = spans or NoSpans()

    def customize(self, request: TokenRequest, *, reserved: Reserved, deadline: float) -> Merged:
        """The custom claims per token after every workflow's patch, or a denial/failure raised.
        ``reserved``: what the token's signer keeps, which no workflow may set."""
        runs = self.run(request, reserved=reserved, deadline=deadline)
        return merge_runs(runs, tokens=request.tokens, base=request.claims, reserved=reserved)

    def run(
        self,
        request: TokenRequest,
        *,
        reserved: Reserved = NOTHING_RESERVED,
        deadline: float,
        record: bool = False,
        waiting: Callable[[], None] | None = None,
    ) -> list[WorkflowRun]:
        """Invoke every workflow registered for the request's trigger, all at once; ``record``
        asks each for what it saw and did; ``waiting`` is called once they are all on their way
        (this thread then only waits: a moment for background work)."""
        registrations = self.registry.for_trigger(request.trigger)
        if not registrations:
            return []
        correlation_id = request.correlation_id or str(uuid.uuid4())
        trace = self.spans.current()  # carried to each worker thread
        started = time.monotonic()
        pending: list[tuple[WorkflowRegistration, float, Task]] = []
        for registration in registrations:
            own_deadline = min(deadline, started + registration.timeout_ms / 1000)
            timeout_ms = int((own_deadline - started) * 1000)
            payload = invocation_payload(
                registration, request, correlation_id=correlation_id, timeout_ms=timeout_ms, reserved=reserved, record=record
            )
            task = self.dispatcher.submit(self._invoke, registration, payload, timeout_ms, trace)
            pending.append((registration, own_deadline, task))
        if waiting is not None:
            waiting()
        runs: list[WorkflowRun] = []
        for registration, own_deadline, task in pending:  # all run at once; waiting in order is fine
            if task.wait(own_deadline - time.monotonic()):
                runs.append(task.outcome())
            else:
                self.dispatcher.abandon(task)
                waited = (time.monotonic() - started) * 1000
                limit = "issuance budget" if own_deadline == deadline else "workflow deadline"
                runs.append(
                    WorkflowRun(registration, failure=f"did not answer within {waited:.0f} ms ({limit})", duration_ms=waited)
                )
        return runs

    def _invoke(self, registration: WorkflowRegistration, payload: Mapping[str, Any], timeout_ms: int, trace: Any) -> WorkflowRun:
        started = time.perf_counter()
        with self.spans.span(f"workflow {registration.id}", parent=trace, annotations={"workflow": registration.id}):
            try:
                reply = self.invoker.invoke(registration.id, registration.function, payload, timeout=timeout_ms / 1000)
            except WorkflowInvocationError as error:
                return WorkflowRun(registration, failure=error.cause, duration_ms=(time.perf_counter() - started) * 1000)
        return WorkflowRun(registration, reply=reply, duration_ms=(time.perf_counter() - started) * 1000)
