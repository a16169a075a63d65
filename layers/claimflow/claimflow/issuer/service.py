"""The issuer's use case: validate the request, mint standard claims, run the trigger's
workflows concurrently under their deadlines and the issuance budget, merge, sign.

No AWS here: the invoker and the key provider are ports handed in by the composition root.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from queue import SimpleQueue
from typing import Any

from claimflow.claims import NOTHING_RESERVED, RESERVED_CLAIMS, Reserved, check_patch
from claimflow.errors import ClaimflowError
from claimflow.infra.spans import NoSpans, Spans
from claimflow.issuer.errors import TokenRequestError, TokenTooLargeError, WorkflowInvocationError
from claimflow.issuer.invoker import WorkflowInvoker
from claimflow.issuer.policy import ClaimConflict, Merged, WorkflowRun, merge_runs
from claimflow.issuer.registry import WorkflowRegistration, WorkflowRegistry
from claimflow.issuer.request import IssuerConfig, TokenRequest, mint_standard_claims, new_token_id, parse_token_request
from claimflow.issuer.signing import KeyProvider
from claimflow.settings import FailurePolicy
from claimflow.tokens import TOKENS, TokenKind, tokens_for
from claimflow.wire.contracts import WORKFLOW_INVOCATION, WorkflowReport

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
    ) -> None:
        self.config = config
        self.keys = keys
        self.spans = spans or NoSpans()
        self.workflows = WorkflowRunner(registry, invoker, dispatcher=dispatcher, spans=self.spans)
        self._clock = clock
        self._new_jti = new_jti or new_token_id

    def issue(self, document: Any) -> IssuedTokens:
        deadline = time.monotonic() + self.config.issuance_budget_ms / 1000
        request = parse_token_request(document, self.config)
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
        runs = self.workflows.run(request, reserved=reserved, deadline=deadline)
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
        )


def invocation_payload(
    registration: WorkflowRegistration,
    request: TokenRequest,
    *,
    correlation_id: str,
    timeout_ms: int,
    reserved: Reserved = NOTHING_RESERVED,
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


class _Task:
    """One invocation handed to a dispatcher thread. Its result is signalled with a lock the
    task holds until it is done: the cheapest wake-up between threads CPython has (a Future's
    condition variable costs about twice as much, on every workflow of every token)."""

    __slots__ = ("_done", "abandoned", "args", "error", "finished", "function", "result")

    def __init__(self, function: Callable[..., WorkflowRun], args: tuple[Any, ...]) -> None:
        self.function, self.args = function, args
        self.result: WorkflowRun | None = None
        self.error: BaseException | None = None
        self.abandoned = self.finished = False
        self._done = threading.Lock()
        self._done.acquire()

    def run(self) -> None:
        try:
            self.result = self.function(*self.args)
        except BaseException as error:  # handed to the waiting runner, which re-raises it
            self.error = error

    def signal(self) -> None:
        """Wake the runner waiting for this task (after the dispatcher has counted its thread idle)."""
        self._done.release()

    def wait(self, timeout: float) -> bool:
        """Whether the task finished within ``timeout`` seconds."""
        return self._done.acquire(timeout=timeout) if timeout > 0 else self._done.acquire(blocking=False)

    def outcome(self) -> WorkflowRun:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class Dispatcher:
    """The threads workflow invocations run on, so the runner can stop waiting at a deadline.

    Elastic: a task that finds no idle thread gets a new one (up to ``max_threads``), so a burst
    never queues behind busy threads; and when the runner abandons a task (its deadline passed)
    the thread stuck in it leaves once it is done, its place taken at once by a new one. Work a
    request abandoned never reduces the capacity later requests get.
    """

    def __init__(self, *, idle_threads: int = 4, max_threads: int = 256) -> None:
        self._queue: SimpleQueue[_Task] = SimpleQueue()
        self._lock = threading.Lock()
        self._idle_target = idle_threads
        self._max_threads = max_threads
        self.threads = 0
        self._idle = 0

    def submit(self, function: Callable[..., WorkflowRun], *args: Any) -> _Task:
        task = _Task(function, args)
        with self._lock:
            if self._idle == 0 and self.threads < self._max_threads:
                self._spawn()
            else:
                self._idle -= 1  # reserved for this task
        self._queue.put(task)
        return task

    def abandon(self, task: _Task) -> None:
        """The runner no longer waits for ``task``: replace the thread stuck in it."""
        with self._lock:
            if not task.finished:
                task.abandoned = True
                self._spawn()
                self._idle += 1

    def _spawn(self) -> None:  # called with the lock held
        self.threads += 1
        threading.Thread(target=self._work, name="claimflow-workflow", daemon=True).start()

    def _work(self) -> None:
        while True:
            task = self._queue.get()
            task.run()
            with self._lock:
                task.finished = True
                leaving = task.abandoned or self._idle >= self._idle_target
                if leaving:
                    self.threads -= 1
                else:
                    self._idle += 1
            # Counted idle before the runner wakes: its next request finds this thread, instead of
            # starting a new one because the bookkeeping had not caught up.
            task.signal()
            if leaving:
                return


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

    def run(self, request: TokenRequest, *, reserved: Reserved = NOTHING_RESERVED, deadline: float) -> list[WorkflowRun]:
        """Invoke every workflow registered for the request's trigger, all at once."""
        registrations = self.registry.for_trigger(request.trigger)
        if not registrations:
            return []
        correlation_id = request.correlation_id or str(uuid.uuid4())
        trace = self.spans.current()  # carried to each worker thread
        started = time.monotonic()
        pending: list[tuple[WorkflowRegistration, float, _Task]] = []
        for registration in registrations:
            own_deadline = min(deadline, started + registration.timeout_ms / 1000)
            timeout_ms = int((own_deadline - started) * 1000)
            payload = invocation_payload(
                registration, request, correlation_id=correlation_id, timeout_ms=timeout_ms, reserved=reserved
            )
            task = self.dispatcher.submit(self._invoke, registration, payload, timeout_ms, trace)
            pending.append((registration, own_deadline, task))
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
