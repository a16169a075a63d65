"""The issuer: standard claims, workflow fan-out, merge rules, signing and JWKS."""

from claimflow.errors import WorkflowInvocationError  # re-exported for invoker authors
from claimflow.issuer.invoker import InProcessWorkflowInvoker, LambdaWorkflowInvoker, WorkflowInvoker
from claimflow.issuer.policy import ClaimConflict, Merged, WorkflowRun, merge_runs
from claimflow.issuer.registry import WorkflowRegistration, WorkflowRegistry
from claimflow.issuer.request import IssuerConfig, TokenRequest, mint_standard_claims, parse_token_request
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
    "Signer",
    "TokenIssuer",
    "TokenRequest",
    "WorkflowInvocationError",
    "WorkflowInvoker",
    "WorkflowRegistration",
    "WorkflowRegistry",
    "WorkflowRun",
    "WorkflowRunner",
    "merge_runs",
    "mint_standard_claims",
    "parse_token_request",
]
