"""The issuer's side of recording: which token requests are recorded (a sample), and how one
becomes a recording written off the login path.

On the login path the issuer only decides (``sampled()``: one random draw) and, once it has
its answer, hands over references to what it already holds (``submit``: a put on a bounded
queue, which never blocks and never raises). One daemon thread, started on the first
recording, makes each into a document (``login_document``), redacts it with the issuer's
secret registry (each workflow's part was already redacted by the workflow's own), and
writes it to the sink. A full queue drops the recording and counts it: a sample may lose a
login, a login never waits for a sample.

The thread works while the issuer waits: the next token request calls ``idle()`` once its
workflows are on their way (or ``max_delay`` after a recording arrived, if none comes). In
Lambda the thread runs only while the execution environment does: what it has not written
when the function returns is written during a later invocation, or lost if the environment
is reclaimed first; docs/recording-and-replay.md says why that was chosen and what it costs.

Pure Python: the sinks are ports (``RecordingSink``), S3 is an adapter (``s3_sink``).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from claimflow.infra.secrets import SecretRegistry
from claimflow.tokens import TOKENS, TokenKind, tokens_for
from claimflow.wire.contracts import RECORDING

__all__ = [
    "RECORDING",
    "BackgroundWriter",
    "Recorder",
    "RecordingSink",
    "custom_claims",
    "login_document",
    "recording_name",
]


_log = logging.getLogger(__name__)


class RecordingSink(Protocol):
    """Where recordings go: ``name`` is the recording's file name (``recording_name``)."""

    def write(self, name: str, body: bytes) -> None:
        """Store one recording; raise ``RecordingWriteError`` when it cannot be stored."""
        ...


def recording_name(recorded_at: float, recording_id: str) -> str:
    """``2026-12-02T12-00-01.123456Z-<id>.json``: names sort as time does (``recordings pull``
    lists from a moment on), with no character that needs escaping in a URL or a file system."""
    stamp = datetime.datetime.fromtimestamp(recorded_at, datetime.UTC).strftime("%Y-%m-%dT%H-%M-%S.%fZ")
    return f"{stamp}-{recording_id}.json"


@dataclass(frozen=True)
class _Login:
    """What the issuer hands over: references to what it already holds, nothing copied."""

    recording_id: str
    recorded_at: float
    document: Any  # the token request as the identity stack sent it
    request: Any  # claimflow.issuer.request.TokenRequest
    runs: Sequence[Any]  # claimflow.issuer.policy.WorkflowRun
    reserved: Any  # claimflow.claims.Reserved
    issued: Any = None  # claimflow.issuer.service.IssuedTokens
    refused: Exception | None = None


def _run_document(run: Any) -> dict[str, Any]:
    registration = run.registration
    reply = run.reply if isinstance(run.reply, Mapping) else {}
    entry: dict[str, Any] = {
        "id": registration.id,
        "function": registration.function,
        "failure_policy": registration.failure_policy.value,
        "timeout_ms": registration.timeout_ms,
        "outcome": reply.get("outcome", "failed") if run.failure is None else "failed",
        "duration_ms": round(run.duration_ms, 3),
        "patches": reply.get("patches", {}) if run.failure is None else {},
        "reason": reply.get("reason"),
        "error": reply.get("error") if run.failure is None else {"type": "WorkflowInvocationError", "message": run.failure},
    }
    recording = reply.get("recording")
    if isinstance(recording, Mapping):
        entry.update(recording)
    else:  # no reply (a timeout, a crash): nothing of what it saw came back
        entry.update({"version": "", "code_sha256": "", "config": {}, "fetches": [], "env": [], "claims_set": []})
    return entry


def login_document(login: _Login, *, stage: str) -> dict[str, Any]:
    """One recording: the token request, what every workflow was given, saw and did, and the
    tokens' custom claims (or why there were none). Not yet redacted."""
    request = login.request
    document: dict[str, Any] = {
        "contract": RECORDING,
        "id": login.recording_id,
        "recorded_at": datetime.datetime.fromtimestamp(login.recorded_at, datetime.UTC).isoformat(timespec="microseconds"),
        "stage": stage,
        "trigger": request.trigger.value,
        "correlation_id": request.correlation_id,
        "request": login.document,
        "invocation": {  # what every workflow was given (the invocation request's own fields)
            "event": request.event,
            "tokens": {kind.value: dict(request.claims.get(kind.value, {})) for kind in tokens_for(request.trigger)},
            "reserved": login.reserved.wire,
            "token_kinds": [kind.value for kind in request.tokens],  # the tokens this request was to produce
        },
        "workflows": [_run_document(run) for run in login.runs],
    }
    if login.issued is not None:
        document["outcome"] = "issued"
        document["tokens"] = {
            kind.value: {
                "jti": claims.get("jti"),
                "claims": claims,
                "custom": custom_claims(kind, claims, minted=login.reserved.claims.get(kind, frozenset())),
            }
            for kind, claims in login.issued.claims.items()
        }
    else:
        refused = login.refused
        code = getattr(refused, "error_code", "server_error")
        document["outcome"] = "denied" if code == "access_denied" else "refused"
        document["error"] = {"code": code, "description": str(refused)}
        document["tokens"] = {}
    return document


class BackgroundWriter:
    """A bounded queue and one daemon thread that renders and writes what is put on it.

    The thread does its work when told the login path is idle (``idle()``: the issuer calls it
    as it starts waiting for the next request's workflows, when its own thread holds neither
    the CPU nor the GIL), or ``max_delay`` seconds after an item arrived, whichever is first:
    rendering and sending while the issuer is still answering would slow that answer down."""

    def __init__(
        self,
        sink: RecordingSink,
        render: Callable[[Any], tuple[str, bytes]],
        *,
        max_pending: int = 64,
        max_delay: float = 2.0,
    ) -> None:
        self.sink = sink
        self._render = render
        self._queue: queue.Queue[Any] = queue.Queue(max_pending)
        self._go = threading.Event()
        self.max_delay = max_delay
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()
        self.written = self.dropped = self.failed = 0

    def idle(self) -> None:
        """The login path is waiting (on workflows): a good moment for the thread to work."""
        if self._queue.unfinished_tasks:
            self._go.set()

    def put(self, item: Any) -> bool:
        """Hand ``item`` over without waiting; False (and counted) when the queue is full."""
        if self._thread is None:
            with self._start:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._work, name="claimflow-recordings", daemon=True)
                    self._thread.start()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything put so far is written (or failed); False on timeout. For tests
        and local runs: the login path never calls it."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            self._go.set()
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            self._go.wait(self.max_delay)  # until the login path is idle, or long enough
            self._go.clear()
            try:
                name, body = self._render(item)
                self.sink.write(name, body)
                self.written += 1
            except Exception as error:  # a lost sample is counted and logged; it never stops the next one
                self.failed += 1
                _log.warning("a recording was not written: %s: %s", type(error).__name__, error)
            finally:
                self._queue.task_done()


class Recorder:
    """Samples token requests (``sample_rate``, 0-1) and writes each sampled one, redacted, to ``sink``."""

    def __init__(
        self,
        sink: RecordingSink,
        *,
        sample_rate: float,
        stage: str,
        secrets: SecretRegistry,
        max_pending: int = 64,
        max_delay: float = 2.0,
        clock: Callable[[], float] = time.time,
        draw: Callable[[], float] = random.random,
        new_id: Callable[[], str] = lambda: os.urandom(8).hex(),
    ) -> None:
        if not 0.0 <= sample_rate <= 1.0:
            from claimflow.errors import ConfigurationError

            raise ConfigurationError(f"the recording sample rate must be between 0 and 1, not {sample_rate}")
        self.sample_rate = sample_rate
        self.stage = stage
        self.secrets = secrets
        self._clock, self._draw, self._new_id = clock, draw, new_id
        self.writer = BackgroundWriter(sink, self._render, max_pending=max_pending, max_delay=max_delay)

    def idle(self) -> None:
        """Called as the issuer starts waiting for a request's workflows: pending recordings are
        written now, while its thread waits, rather than while it answers."""
        self.writer.idle()

    def sampled(self) -> bool:
        """Whether to record this token request (one draw; 1 records all, 0 none)."""
        return self.sample_rate >= 1.0 or (self.sample_rate > 0.0 and self._draw() < self.sample_rate)

    def submit(
        self,
        *,
        document: Any,
        request: Any,
        runs: Sequence[Any],
        reserved: Any,
        issued: Any = None,
        refused: Exception | None = None,
    ) -> None:
        """Hand a finished token request over; returns at once and never raises."""
        try:
            self.writer.put(_Login(self._new_id(), self._clock(), document, request, list(runs), reserved, issued, refused))
        except Exception:  # recording must never cost a login its token
            _log.exception("a recording could not be handed over")

    def _render(self, login: _Login) -> tuple[str, bytes]:
        document = self.secrets.redact_value(login_document(login, stage=self.stage))
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str).encode()
        return recording_name(login.recorded_at, login.recording_id), self.secrets.redact(body.decode()).encode()


def custom_claims(kind: TokenKind, claims: Mapping[str, Any], *, minted: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The custom claims of a token: all but the names no workflow may set (its kind's
    reserved names, and ``minted``: what this token minted beyond them, e.g. ``org_code``)."""
    return {name: value for name, value in claims.items() if name not in TOKENS[kind].reserved and name not in minted}
