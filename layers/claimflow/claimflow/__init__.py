"""claimflow: customize OAuth/OIDC tokens with small Python workflows on AWS Lambda.

The seed's ``@kinde/infrastructure`` API in Python. A workflow module declares
``workflow_settings``, one function, and ``lambda_handler = create_handler(...)``. This
package exports what a workflow author uses and the errors an author can meet; the issuer
lives in ``claimflow.issuer``.
"""

from claimflow.bindings.auth import deny_access
from claimflow.bindings.env import EnvironmentVariable, get_environment_variable
from claimflow.bindings.fetch import FetchResult, fetch, secure_fetch
from claimflow.bindings.tokens import access_token_custom_claims, id_token_custom_claims, m2m_token_claims
from claimflow.claims import RESERVED_CLAIMS, CustomClaims
from claimflow.errors import (
    BindingNotAvailableError,
    ClaimError,
    ClaimflowError,
    ClaimValueError,
    EgressDeniedError,
    EventError,
    EventFieldError,
    FetchError,
    FetchStatusError,
    FetchUsageError,
    InvalidSettingsError,
    OutsideInvocationError,
    ParameterStoreError,
    ReservedClaimError,
    SeedNameImportError,
)
from claimflow.events import EventView
from claimflow.handler import create_handler
from claimflow.runtime import console
from claimflow.settings import FailurePolicy, WorkflowSettings
from claimflow.tokens import TokenKind
from claimflow.triggers import WorkflowTrigger

__version__ = "0.1.0"


def _check_architecture() -> None:
    """A layer built for one architecture fails on the other with an obscure ELF error deep in
    cryptography; say what happened instead (sam build writes BUILT_FOR)."""
    import os
    from pathlib import Path

    built = Path(__file__).with_name("BUILT_FOR")
    if built.exists():
        wanted = built.read_text().strip()
        running = {"aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
        if wanted != running:
            raise ImportError(
                f"the claimflow layer was built for {wanted} and this function runs on {running}: "
                f"rebuild with CLAIMFLOW_ARCH={running} sam build, or set the Architecture parameter to {wanted}"
            )


_check_architecture()

#: The seed's camelCase names, which live in claimflow.kinde (and their snake_case twins here).
_SEED_NAMES = {
    "accessTokenCustomClaims": "access_token_custom_claims",
    "idTokenCustomClaims": "id_token_custom_claims",
    "m2mTokenClaims": "m2m_token_claims",
    "getEnvironmentVariable": "get_environment_variable",
    "secureFetch": "secure_fetch",
    "denyAccess": "deny_access",
    "onUserTokenGeneratedEvent": "EventView",
    "onM2MTokenGeneratedEvent": "EventView",
}


def __getattr__(name: str) -> object:
    """``from claimflow import accessTokenCustomClaims`` names both places the function is."""
    if name in _SEED_NAMES:
        raise SeedNameImportError(
            f"cannot import name {name!r} from 'claimflow': the seed's camelCase names are in claimflow.kinde "
            f"(from claimflow.kinde import {name}); claimflow spells it {_SEED_NAMES[name]}",
            name=name,
        )
    import sys

    raise AttributeError(f"module 'claimflow' has no attribute {name!r}", name=name, obj=sys.modules[__name__])


__all__ = [
    # settings
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
    # errors a workflow can meet
    "BindingNotAvailableError",
    "ClaimError",
    "ClaimValueError",
    "ClaimflowError",
    "EgressDeniedError",
    "EventError",
    "EventFieldError",
    "FetchError",
    "FetchStatusError",
    "FetchUsageError",
    "InvalidSettingsError",
    "OutsideInvocationError",
    "ParameterStoreError",
    "ReservedClaimError",
    "SeedNameImportError",
]
