"""The root of every claimflow error, and the errors of the layer's core: what a workflow
author can meet, and what the wire contracts raise. The issuer's own errors subclass the same
root in ``claimflow.issuer.errors`` and ``claimflow.keys.errors``.

Each error carries the OAuth ``error`` code it becomes when it reaches a client, so the one
place that turns errors into replies maps them by type, never by message text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

__all__ = [
    "BindingNotAvailableError",
    "ClaimError",
    "ClaimValueError",
    "ClaimflowError",
    "ConfigurationError",
    "ContractError",
    "DynamoDbApiError",
    "EgressDeniedError",
    "EventError",
    "EventFieldError",
    "FetchError",
    "FetchStatusError",
    "InvalidSettingsError",
    "InvalidTokenRequestError",
    "IssuerRefusedError",
    "IssuerUnavailableError",
    "KmsError",
    "LambdaInvokeError",
    "OutsideInvocationError",
    "ParameterStoreError",
    "ReservedClaimError",
    "SsmApiError",
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


class OutsideInvocationError(ClaimflowError):
    """A workflow function was called outside a workflow invocation (e.g. at import)."""


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
    """The claim is one the token's signer owns; no workflow may set it."""

    def __init__(self, claim: str, token: str, *, owner: str = "") -> None:
        self.claim = claim
        self.token = token
        by = f" ({owner})" if owner else ""
        super().__init__(f"'{claim}' is a reserved claim of the {token}{by} and cannot be set by a workflow")


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


# --- the wire ------------------------------------------------------------------------------


class ContractError(ClaimflowError):
    """A message on the wire does not follow its versioned contract."""

    error_code = "invalid_request"


class LambdaInvokeError(ClaimflowError):
    """Lambda's Invoke API refused a call or did not answer in time (the function may not have run)."""

    error_code = "temporarily_unavailable"


# --- the issuer's client (``claimflow.wire.client``: identity stacks that mint through claimflow) ---


class IssuerRefusedError(ClaimflowError):
    """The issuer answered an OAuth error; ``error_code`` is it (instance attribute)."""

    def __init__(self, error: str, description: str, workflows: Sequence[Mapping[str, Any]] = ()) -> None:
        self.error_code = error  # type: ignore[misc]
        self.workflows = list(workflows)
        super().__init__(description)


class InvalidTokenRequestError(IssuerRefusedError):
    """The token request cannot be sent: not JSON (NaN or Infinity, a value JSON has no form
    for). Refused before sending, as the issuer would refuse it: ``invalid_request``."""

    def __init__(self, description: str) -> None:
        super().__init__("invalid_request", description)


class IssuerUnavailableError(ClaimflowError):
    """The issuer could not be reached or crashed; no token."""

    error_code = "temporarily_unavailable"


# --- AWS APIs on the login path (signed HTTP, no boto3) ------------------------------------


class SsmApiError(ClaimflowError):
    """SSM answered with an error (or could not be reached); ``response`` is shaped as
    botocore's ``ClientError.response``, so ``SsmParameterStore`` reads either the same way."""

    error_code = "temporarily_unavailable"

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}


class KmsError(ClaimflowError):
    """KMS refused or could not be reached; ``code`` is KMS's error type."""

    error_code = "temporarily_unavailable"

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        self.code = code
        super().__init__(f"KMS {code}: {message}" if message else f"KMS {code}")


class DynamoDbApiError(ClaimflowError):
    """DynamoDB refused or could not be reached; ``response`` is shaped as botocore's
    ``ClientError.response`` (``ConditionalCheckFailedException``: a conditional write lost)."""

    error_code = "temporarily_unavailable"

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        self.code = code
        super().__init__(f"DynamoDB {code}: {message}" if message else f"DynamoDB {code}")
        self.response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
