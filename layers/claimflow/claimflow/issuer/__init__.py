"""The issuer: standard claims, workflow fan-out, merge rules, signing, JWKS and claims hooks.

Its errors live in ``claimflow.issuer.errors`` and are exported here.
"""

from claimflow.issuer.errors import (
    AccessDeniedError,
    SigningKeyError,
    TokenRequestError,
    TokenTooLargeError,
    WorkflowFailedError,
    WorkflowInvocationError,
    WorkflowOutcomeError,
)
from claimflow.issuer.invoker import InProcessWorkflowInvoker, WorkflowInvoker
from claimflow.issuer.lambda_invoker import LambdaWorkflowInvoker
from claimflow.issuer.policy import ClaimConflict, Merged, WorkflowRun, merge_runs
from claimflow.issuer.registry import WorkflowRegistration, WorkflowRegistry
from claimflow.issuer.request import IssuerConfig, SignIn, TokenRequest, mint_standard_claims, parse_token_request
from claimflow.issuer.service import IssuedTokens, TokenIssuer, WorkflowRunner
from claimflow.issuer.signing import SUPPORTED_ALGORITHMS, KeyEntry, KeyProvider, KeySet, Signer

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "ClaimConflict",
    "InProcessWorkflowInvoker",
    "IssuedTokens",
    "IssuerConfig",
    "KeyEntry",
    "KeyProvider",
    "KeySet",
    "LambdaWorkflowInvoker",
    "Merged",
    "SignIn",
    "Signer",
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
    "SigningKeyError",
    "TokenRequestError",
    "TokenTooLargeError",
    "WorkflowFailedError",
    "WorkflowInvocationError",
    "WorkflowOutcomeError",
]
