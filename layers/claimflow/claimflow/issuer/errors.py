"""The issuer's errors: what refuses a token request. All under claimflow's one root, each
carrying its OAuth ``error`` code; the issuer's handler maps them by type."""

from __future__ import annotations

from collections.abc import Sequence

from claimflow.errors import ClaimflowError, ContractError
from claimflow.wire.contracts import WorkflowReport

__all__ = [
    "AccessDeniedError",
    "HookAuthenticationError",
    "ReplayStoreError",
    "TokenRequestError",
    "TokenTooLargeError",
    "WorkflowFailedError",
    "WorkflowInvocationError",
    "WorkflowOutcomeError",
]


class TokenRequestError(ContractError):
    """The identity stack's token request is invalid."""


class WorkflowInvocationError(ClaimflowError):
    """A workflow could not be run or answered something unusable (crash, timeout, bad reply)."""

    def __init__(self, workflow_id: str, cause: str) -> None:
        self.workflow_id = workflow_id
        self.cause = cause
        super().__init__(f"workflow '{workflow_id}': {cause}")


class WorkflowOutcomeError(ClaimflowError):
    """A workflow's outcome stopped the issuance; ``report`` says what every workflow did."""

    def __init__(self, workflow_id: str, message: str, *, report: Sequence[WorkflowReport] = ()) -> None:
        self.workflow_id = workflow_id
        self.report: tuple[WorkflowReport, ...] = tuple(report)
        super().__init__(message)


class WorkflowFailedError(WorkflowOutcomeError):
    """A workflow with failure policy ``stop`` failed, so no token is issued."""

    def __init__(self, workflow_id: str, cause: str, *, report: Sequence[WorkflowReport] = ()) -> None:
        self.cause = cause
        super().__init__(workflow_id, f"workflow '{workflow_id}' failed (failure policy stop): {cause}", report=report)

    @property
    def description(self) -> str:
        """Names the workflow, never the cause: that may hold an internal URL or a third party's
        answer. The cause is in the report and the logs, redacted."""
        return f"workflow '{self.workflow_id}' failed (failure policy stop); see the issuer's report for the cause"


class AccessDeniedError(WorkflowOutcomeError):
    """A workflow called ``deny_access``."""

    error_code = "access_denied"

    def __init__(self, workflow_id: str, reason: str, *, report: Sequence[WorkflowReport] = ()) -> None:
        self.reason = reason
        super().__init__(workflow_id, reason, report=report)


class TokenTooLargeError(ClaimflowError):
    """The signed token is larger than the configured maximum (tokens ride in headers)."""


class HookAuthenticationError(ClaimflowError):
    """A claims-hook call is not from the identity stack the hook serves; nothing runs."""

    error_code = "invalid_client"


class ReplayStoreError(ClaimflowError):
    """The store of used hook signatures could not say whether a call is a replay; the call is
    refused (fail closed) and may be tried again."""

    error_code = "temporarily_unavailable"
