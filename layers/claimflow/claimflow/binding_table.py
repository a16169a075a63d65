"""The seed's bindings, in one table: each binding's options, the functions it unlocks, the
bindings it needs beside it, and the IAM its Lambda needs. ``WorkflowSettings`` validates
against it; ``claimflow check`` and ``claimflow new`` read it. The functions themselves live
in one module per binding in ``claimflow.bindings`` (``tokens``, ``fetch``, ``env``, ``auth``),
which import this table and never the other way round.

A new binding is one row here (and its module, when it has functions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from claimflow.environment import SsmPaths
from claimflow.tokens import TOKENS, TokenKind

__all__ = ["BINDINGS", "BindingSpec", "IamStatement", "needed_for"]


@dataclass(frozen=True)
class IamStatement:
    """One statement a workflow's role needs; ``resources`` are SSM parameter paths."""

    sid: str
    action: str
    resources: tuple[str, ...]


def _no_iam(workflow_id: str, paths: SsmPaths) -> tuple[IamStatement, ...]:
    return ()


@dataclass(frozen=True, kw_only=True)
class BindingSpec:
    name: str  # the seed's binding id
    options: Mapping[str, type] = field(default_factory=dict)  # option -> the type its value must have
    functions: tuple[str, ...] = ()  # the claimflow functions it unlocks
    seed_functions: tuple[str, ...] = ()  # the same, as the seed names them
    requires: tuple[str, ...] = ()  # bindings its functions need beside it
    token: TokenKind | None = None  # for token bindings: whose custom claims
    iam: Callable[[str, SsmPaths], tuple[IamStatement, ...]] = _no_iam
    summary: str = ""

    def statements(self, workflow_id: str, paths: SsmPaths) -> tuple[IamStatement, ...]:
        """The IAM statements a workflow with this binding needs (its SSM paths from ``paths``)."""
        return self.iam(workflow_id, paths)


def _env_iam(workflow_id: str, paths: SsmPaths) -> tuple[IamStatement, ...]:
    return (IamStatement("ReadOwnAndStageEnv", "ssm:GetParametersByPath", (paths.shared_env, paths.workflow_env(workflow_id))),)


def _secure_fetch_iam(workflow_id: str, paths: SsmPaths) -> tuple[IamStatement, ...]:
    return (IamStatement("ReadSecureFetchKey", "ssm:GetParameter", (paths.secure_fetch_key(workflow_id),)),)


_ROWS = (
    *(
        BindingSpec(
            name=spec.binding,
            options={"resetClaims": bool},
            functions=(spec.function,),
            seed_functions=(spec.seed_function,),
            token=spec.kind,
            summary=f"read and set the {spec.kind.value}'s custom claims",
        )
        for spec in TOKENS.values()
    ),
    BindingSpec(
        name="kinde.fetch",
        functions=("fetch",),
        seed_functions=("fetch",),
        requires=("url",),
        summary="call a third-party API over HTTPS",
    ),
    BindingSpec(
        name="kinde.secureFetch",
        functions=("secure_fetch",),
        seed_functions=("secureFetch",),
        requires=("url",),
        iam=_secure_fetch_iam,
        summary="fetch with the body encrypted under the workflow's key (SSM SecureString)",
    ),
    BindingSpec(
        name="kinde.env",
        functions=("get_environment_variable",),
        seed_functions=("getEnvironmentVariable",),
        iam=_env_iam,
        summary="environment variables and secrets from SSM",
    ),
    BindingSpec(name="kinde.auth", functions=("deny_access",), seed_functions=("denyAccess",), summary="deny the token"),
    BindingSpec(name="url", options={"allowedHosts": list}, summary="URL handling for fetch; allowedHosts limits where it goes"),
    BindingSpec(name="console", functions=("console",), seed_functions=("console",), summary="structured logs (always on)"),
)

#: Every binding by its seed id, in the seed's order.
BINDINGS: Mapping[str, BindingSpec] = MappingProxyType({row.name: row for row in _ROWS})


def needed_for(binding: str) -> tuple[str, ...]:
    """The bindings a workflow must declare to call ``binding``'s functions: itself and what it requires."""
    return (binding, *BINDINGS[binding].requires)
