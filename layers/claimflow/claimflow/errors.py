"""Every error claimflow raises, under one root.

Each error carries the OAuth ``error`` code it becomes when it reaches a client, so the one
place that turns errors into replies maps them by type, never by message text.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccessDeniedError",
    "BindingNotAvailableError",
    "ClaimError",
    "ClaimValueError",
    "ClaimflowError",
    "ConfigurationError",
    "ContractError",
    "EgressDeniedError",
    "EventError",
    "EventFieldError",
    "FetchError",
    "FetchStatusError",
    "InvalidSettingsError",
    "IssuanceBudgetError",
    "ParameterStoreError",
    "ReservedClaimError",
    "SigningKeyError",
    "TokenRequestError",
    "TokenTooLargeError",
    "WorkflowFailedError",
    "WorkflowInvocationError",
]


class ClaimflowError(Exception):
    """Root of every claimflow error; ``error_code`` is its OAuth ``error`` value."""

    error_code: ClassVar[str] = "server_error"

    @property
    def description(self) -> str:
        """The OAuth ``error_description``: the message, which names what to fix."""
        return str(self)


class ConfigurationError(ClaimflowError):
    """A deployment setting (environment variable, registry, template parameter) is wrong."""


# --- defining a workflow -------------------------------------------------------------------


class InvalidSettingsError(ClaimflowError):
    """A workflow's settings are wrong; raised when its module loads."""


class BindingNotAvailableError(ClaimflowError):
    """The workflow called a function whose binding it did not declare."""

    def __init__(self, binding: str) -> None:
        self.binding = binding
        super().__init__(f"{binding} binding not available, please add to workflow settings to enable")


# --- the event and claims ------------------------------------------------------------------


class EventError(ClaimflowError):
    """The event handed to a workflow does not have the shape of its trigger."""

    error_code = "invalid_request"


class EventFieldError(EventError, AttributeError):
    """A workflow read an event field the event does not carry."""


class ClaimError(ClaimflowError):
    """A claim that cannot go into a token."""


class ReservedClaimError(ClaimError):
    """The claim is one the issuer owns; no workflow may set it."""

    def __init__(self, claim: str, token: str) -> None:
        self.claim = claim
        self.token = token
        super().__init__(f"'{claim}' is a reserved claim of the {token} and cannot be set by a workflow")


class ClaimValueError(ClaimError):
    """The claim's name or value cannot be carried in a JWT (not JSON, too large, bad name)."""


# --- bindings behind the scenes ------------------------------------------------------------


class FetchError(ClaimflowError):
    """A fetch failed: refused, timed out, errored, or answered something unusable."""

    error_code = "temporarily_unavailable"

    def __init__(self, url: str, cause: str) -> None:
        self.url = url
        self.cause = cause
        super().__init__(f"fetch {url}: {cause}")


class FetchStatusError(FetchError):
    """The server answered with an HTTP error status; ``status`` and ``data`` say what."""

    def __init__(self, url: str, status: int, data: object) -> None:
        self.status = status
        self.data = data
        super().__init__(url, f"answered HTTP {status}")


class EgressDeniedError(FetchError):
    """The URL points somewhere a workflow may not reach (SSRF guard, allowlist, scheme)."""

    error_code = "server_error"


class ParameterStoreError(ClaimflowError):
    """The parameter store (SSM) could not be read and no cached value was there to serve."""

    error_code = "temporarily_unavailable"


# --- contracts and issuing -----------------------------------------------------------------


class ContractError(ClaimflowError):
    """A message on the wire does not follow its versioned contract."""

    error_code = "invalid_request"


class TokenRequestError(ContractError):
    """The identity stack's token request is invalid."""


class WorkflowInvocationError(ClaimflowError):
    """A workflow could not be run or answered something unusable (crash, timeout, bad reply)."""

    def __init__(self, workflow_id: str, cause: str) -> None:
        self.workflow_id = workflow_id
        self.cause = cause
        super().__init__(f"workflow '{workflow_id}': {cause}")


class WorkflowFailedError(ClaimflowError):
    """A workflow with failure policy ``stop`` failed, so no token is issued."""

    def __init__(self, workflow_id: str, cause: str) -> None:
        self.workflow_id = workflow_id
        self.cause = cause
        super().__init__(f"workflow '{workflow_id}' failed (failure policy stop): {cause}")


class AccessDeniedError(ClaimflowError):
    """A workflow called ``deny_access``."""

    error_code = "access_denied"

    def __init__(self, workflow_id: str, reason: str) -> None:
        self.workflow_id = workflow_id
        self.reason = reason
        super().__init__(reason)


class IssuanceBudgetError(ClaimflowError):
    """The issuance ran out of its time budget before it could sign."""

    error_code = "temporarily_unavailable"


class TokenTooLargeError(ClaimflowError):
    """The signed token is larger than the configured maximum (tokens ride in headers)."""


class SigningKeyError(ClaimflowError):
    """The signing key set is missing, malformed, or has no usable active key."""
