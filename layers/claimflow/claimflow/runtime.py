"""The invocation a workflow runs in: its settings, event, claims, services and deadline,
made current by the handler with ``activated(invocation)``; and the seed's ``console``.

The seed's functions (one module per binding in ``claimflow.bindings``) act on the current
invocation, as the seed's act on the platform's runtime. A context variable keeps threads
and tasks apart.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from claimflow.environment import SsmPaths
from claimflow.errors import BindingNotAvailableError, OutsideInvocationError
from claimflow.infra.logs import logger_for
from claimflow.infra.secrets import SecretRegistry, container_secrets
from claimflow.record.capture import Capture
from claimflow.tokens import TOKENS, TokenKind
from claimflow.wire.contracts import MAX_FETCH_ERRORS

if TYPE_CHECKING:
    from claimflow.claims import CustomClaims
    from claimflow.events import EventView
    from claimflow.infra.http_client import HttpClient, Resolver
    from claimflow.infra.parameters import ParameterStore
    from claimflow.settings import WorkflowSettings

__all__ = ["Invocation", "WorkflowServices", "activated", "console", "current_invocation"]


@dataclass
class WorkflowServices:
    """The adapters a workflow's bindings use; built once per container (composition root).

    ``parameters`` and ``http`` are made on first use, so a workflow that never reads an
    environment variable never imports boto3, and one that never fetches never opens a session.
    """

    local_mode: bool = False
    paths: SsmPaths = field(default_factory=SsmPaths)
    # One registry per container, shared with the log formatter, so every sink redacts alike.
    secrets: SecretRegistry = field(default_factory=container_secrets)
    fetch_timeout: float = 5.0
    fetch_max_bytes: int = 1 << 20
    env_max_age: float = 60.0
    #: DNS for fetch, ``socket.getaddrinfo``'s shape (None: the system's); the guard checks its answers.
    resolve: Resolver | None = None
    #: Local mode only: hosts fetch may reach beyond a url binding's allowedHosts (a development API).
    local_allowed_hosts: tuple[str, ...] = ()
    _parameters: ParameterStore | None = None
    _http: HttpClient | None = None

    @property
    def parameters(self) -> ParameterStore:
        if self._parameters is None:
            from claimflow.infra.ssm import SsmParameterStore

            self._parameters = SsmParameterStore(max_age=self.env_max_age)
        return self._parameters

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            from claimflow.infra.guarded_http_client import RequestsHttpClient

            self._http = RequestsHttpClient(allow_private=self.local_mode, resolve=self.resolve or socket.getaddrinfo)
        return self._http


@dataclass
class Invocation:
    """One run of one workflow: its settings, event, claims, services and deadline."""

    settings: WorkflowSettings
    event: EventView
    claims: dict[TokenKind, CustomClaims]
    services: WorkflowServices
    deadline: float  # time.monotonic() value after which the workflow has no time left
    denial: str | None = None
    #: What the run fetched (always, for its log line) and, when the issuer records, all it saw and did.
    capture: Capture = field(default_factory=Capture)
    #: Fetches that answered an error status, ``{"url", "status"}`` (the reply reports them, redacted).
    fetch_errors: list[dict[str, Any]] = field(default_factory=list)

    def record_fetch_error(self, url: str, status: int) -> None:
        """A fetch answered ``status`` >= 400: the issuer's report shows it, so a claim read from an
        error body is visible. At most ``MAX_FETCH_ERRORS`` are kept."""
        if len(self.fetch_errors) < MAX_FETCH_ERRORS:
            self.fetch_errors.append({"url": url, "status": status})

    def require(self, *bindings: str) -> None:
        """Raise the seed's error, naming the first of ``bindings`` the workflow did not declare."""
        for name in bindings:
            if not self.settings.declares(name):
                raise BindingNotAvailableError(name)

    def remaining_seconds(self) -> float:
        return self.deadline - time.monotonic()

    def token_claims(self, token: TokenKind) -> CustomClaims:
        self.require(TOKENS[token].binding)
        return self.claims[token]


_current: ContextVar[Invocation | None] = ContextVar("claimflow_invocation", default=None)


def current_invocation() -> Invocation:
    invocation = _current.get()
    if invocation is None:
        raise OutsideInvocationError(
            "claimflow functions work only while a workflow runs; call them inside the workflow function, not at import"
        )
    return invocation


@contextmanager
def activated(invocation: Invocation) -> Iterator[Invocation]:
    """Make ``invocation`` the current one for the block (the handler runs the workflow in it)."""
    token = _current.set(invocation)
    try:
        yield invocation
    finally:
        _current.reset(token)


class _Console:
    """The seed's ``console``: ``console.log``/``info``/``warn``/``error``/``debug``.

    Always available (the tutorial's second workflow logs without declaring ``console``);
    lines go to the workflow's structured log with its id, trigger and correlation id.
    """

    def _emit(self, level: str, args: tuple[Any, ...]) -> None:
        invocation = _current.get()
        logger = logger_for(invocation.settings.id if invocation else "claimflow")
        getattr(logger, level)(" ".join(str(a) for a in args))

    def log(self, *args: Any) -> None:
        self._emit("info", args)

    info = log

    def warn(self, *args: Any) -> None:
        self._emit("warning", args)

    def error(self, *args: Any) -> None:
        self._emit("error", args)

    def debug(self, *args: Any) -> None:
        self._emit("debug", args)


console = _Console()
