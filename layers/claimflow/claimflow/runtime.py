"""The invocation a workflow runs in, and the seed's functions that act on it.

The handler adapter sets the current ``Invocation`` (a context variable, so threads and
tasks stay apart); ``access_token_custom_claims()`` and friends check the binding and act
on it, exactly as the seed's functions act on the platform's runtime.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from claimflow.claims import CustomClaims
from claimflow.config import SsmPaths
from claimflow.env import EnvironmentVariable, EnvironmentVariables, SecretRegistry
from claimflow.errors import BindingNotAvailableError, ClaimflowError
from claimflow.events import EventView
from claimflow.logs import container_secrets
from claimflow.settings import TOKEN_BINDINGS, Binding, TokenKind, WorkflowSettings

if TYPE_CHECKING:
    from claimflow.httpclient import HttpClient
    from claimflow.parameters import ParameterStore

__all__ = [
    "Invocation",
    "OutsideInvocationError",
    "WorkflowServices",
    "access_token_custom_claims",
    "current_invocation",
    "deny_access",
    "get_environment_variable",
    "id_token_custom_claims",
    "m2m_token_claims",
]


class OutsideInvocationError(ClaimflowError):
    """A workflow function was called outside a workflow invocation (e.g. at import)."""


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
    _parameters: ParameterStore | None = None
    _http: HttpClient | None = None

    @property
    def parameters(self) -> ParameterStore:
        if self._parameters is None:
            from claimflow.ssm import SsmParameterStore

            self._parameters = SsmParameterStore(max_age=self.env_max_age)
        return self._parameters

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            from claimflow.requests_http import RequestsHttpClient

            self._http = RequestsHttpClient(allow_private=self.local_mode)
        return self._http

    @property
    def environment(self) -> EnvironmentVariables:
        return EnvironmentVariables(self.parameters, self.paths, self.secrets)


@dataclass
class Invocation:
    """One run of one workflow: its settings, event, claims, services and deadline."""

    settings: WorkflowSettings
    event: EventView
    claims: dict[TokenKind, CustomClaims]
    services: WorkflowServices
    deadline: float  # time.monotonic() value after which the workflow has no time left
    denial: str | None = None

    def require(self, binding: Binding) -> None:
        if not self.settings.declares(binding):
            raise BindingNotAvailableError(binding.value)

    def remaining_seconds(self) -> float:
        return self.deadline - time.monotonic()

    def token_claims(self, token: TokenKind) -> CustomClaims:
        self.require(TOKEN_BINDINGS[token])
        return self.claims[token]


_current: ContextVar[Invocation | None] = ContextVar("claimflow_invocation", default=None)


def current_invocation() -> Invocation:
    invocation = _current.get()
    if invocation is None:
        raise OutsideInvocationError(
            "claimflow functions work only while a workflow runs; call them inside the workflow function, not at import"
        )
    return invocation


def access_token_custom_claims() -> CustomClaims:
    """The access token's custom claims (binding ``kinde.accessToken``)."""
    return current_invocation().token_claims(TokenKind.ACCESS)


def id_token_custom_claims() -> CustomClaims:
    """The ID token's custom claims (binding ``kinde.idToken``)."""
    return current_invocation().token_claims(TokenKind.ID)


def m2m_token_claims() -> CustomClaims:
    """The M2M access token's custom claims (binding ``kinde.m2mToken``)."""
    return current_invocation().token_claims(TokenKind.M2M)


def get_environment_variable(key: str) -> EnvironmentVariable | None:
    """The variable's value and whether it is secret, or None when not set (binding ``kinde.env``)."""
    invocation = current_invocation()
    invocation.require(Binding.ENV)
    return invocation.services.environment.get(invocation.settings.id, key)


def deny_access(reason: str) -> None:
    """Refuse the token: the request fails with ``access_denied`` and this reason (binding ``kinde.auth``)."""
    invocation = current_invocation()
    invocation.require(Binding.AUTH)
    if not isinstance(reason, str) or not reason.strip():
        raise ClaimflowError("deny_access needs a reason the user can be shown")
    invocation.denial = reason[:1024]


def _activate(invocation: Invocation) -> Any:
    return _current.set(invocation)


def _deactivate(token: Any) -> None:
    _current.reset(token)
