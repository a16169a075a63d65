"""The issuer: token requests and standard claims, the workflow fan-out and its deadlines,
merge rules and failure policy, and the claims hooks of identity stacks that sign their own
tokens. Signing keys are their own package, ``claimflow.keys``.

Its errors live in ``claimflow.issuer.errors`` and are exported here.
"""

from claimflow.issuer.config import IssuerConfig
from claimflow.issuer.errors import (
    AccessDeniedError,
    HookAuthenticationError,
    ReplayStoreError,
    TokenRequestError,
    TokenTooLargeError,
    WorkflowFailedError,
    WorkflowInvocationError,
    WorkflowOutcomeError,
)
from claimflow.issuer.lambda_workflow_invoker import LambdaWorkflowInvoker
from claimflow.issuer.policy import ClaimConflict, Merged, WorkflowRun, merge_runs
from claimflow.issuer.registry import WorkflowRegistration, WorkflowRegistry
from claimflow.issuer.request import SignIn, TokenRequest, mint_standard_claims, parse_token_request
from claimflow.issuer.service import IssuedTokens, TokenIssuer, WorkflowRunner
from claimflow.issuer.workflow_invoker import InProcessWorkflowInvoker, WorkflowInvoker

__all__ = [
    "ClaimConflict",
    "InProcessWorkflowInvoker",
    "IssuedTokens",
    "IssuerConfig",
    "LambdaWorkflowInvoker",
    "Merged",
    "SignIn",
    "TokenIssuer",
    "TokenRequest",
    "WorkflowInvoker",
    "WorkflowRegistration",
    "WorkflowRegistry",
    "WorkflowRun",
    "WorkflowRunner",
    "merge_runs",
    "mint_standard_claims",
    "parse_token_request",
    # errors
    "AccessDeniedError",
    "HookAuthenticationError",
    "ReplayStoreError",
    "TokenRequestError",
    "TokenTooLargeError",
    "WorkflowFailedError",
    "WorkflowInvocationError",
    "WorkflowOutcomeError",
]
