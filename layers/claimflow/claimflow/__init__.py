"""claimflow: customize OAuth/OIDC tokens with small Python workflows on AWS Lambda.

The seed's ``@kinde/infrastructure`` API in Python. A workflow module declares
``workflow_settings``, one function, and ``lambda_handler = create_handler(...)``.
"""

from claimflow.claims import RESERVED_CLAIMS, CustomClaims
from claimflow.env import EnvironmentVariable
from claimflow.errors import (
    AccessDeniedError,
    BindingNotAvailableError,
    ClaimError,
    ClaimflowError,
    ClaimValueError,
    ConfigurationError,
    ContractError,
    EgressDeniedError,
    EventError,
    EventFieldError,
    FetchError,
    FetchStatusError,
    InvalidSettingsError,
    IssuanceBudgetError,
    ParameterStoreError,
    ReservedClaimError,
    SigningKeyError,
    TokenRequestError,
    TokenTooLargeError,
    WorkflowFailedError,
    WorkflowInvocationError,
)
from claimflow.events import EventView
from claimflow.fetch import FetchResult, fetch, secure_fetch
from claimflow.handler import create_handler
from claimflow.logs import console
from claimflow.runtime import (
    OutsideInvocationError,
    access_token_custom_claims,
    deny_access,
    get_environment_variable,
    id_token_custom_claims,
    m2m_token_claims,
)
from claimflow.settings import Binding, FailurePolicy, TokenKind, WorkflowSettings, WorkflowTrigger

__version__ = "0.1.0"

__all__ = [
    # settings
    "Binding",
    "FailurePolicy",
    "TokenKind",
    "WorkflowSettings",
    "WorkflowTrigger",
    # the workflow API
    "EventView",
    "CustomClaims",
    "EnvironmentVariable",
    "FetchResult",
    "RESERVED_CLAIMS",
    "access_token_custom_claims",
    "console",
    "create_handler",
    "deny_access",
    "fetch",
    "get_environment_variable",
    "id_token_custom_claims",
    "m2m_token_claims",
    "secure_fetch",
    # errors
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
    "OutsideInvocationError",
    "ParameterStoreError",
    "ReservedClaimError",
    "SigningKeyError",
    "TokenRequestError",
    "TokenTooLargeError",
    "WorkflowFailedError",
    "WorkflowInvocationError",
]
