"""The seed's names, spelled as ``@kinde/infrastructure`` spells them, so a TypeScript
workflow ports line by line::

    from claimflow.kinde import WorkflowSettings, WorkflowTrigger, accessTokenCustomClaims, fetch

    workflowSettings = WorkflowSettings(id="x", trigger=WorkflowTrigger.UserTokenGeneration,
                                        failurePolicy={"action": "continue"}, bindings={...})

    async def FetchThirdPartyDataWorkflow(event):
        accessToken = accessTokenCustomClaims()
        userData = (await fetch(url, {"method": "GET", "responseFormat": "json"}))["data"]
        accessToken.lifetime_subscriber = userData.get("lifetime_subscriber") or False

    lambda_handler = create_handler(workflowSettings, FetchThirdPartyDataWorkflow)

Every name is the snake_case function itself (same behaviour, same errors); only
``WorkflowSettings`` differs, taking ``failurePolicy`` as the seed does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claimflow import settings as _settings
from claimflow.bindings.auth import deny_access as denyAccess
from claimflow.bindings.env import EnvironmentVariable
from claimflow.bindings.env import get_environment_variable as getEnvironmentVariable
from claimflow.bindings.fetch import FetchResult, fetch
from claimflow.bindings.fetch import secure_fetch as secureFetch
from claimflow.bindings.tokens import access_token_custom_claims as accessTokenCustomClaims
from claimflow.bindings.tokens import id_token_custom_claims as idTokenCustomClaims
from claimflow.bindings.tokens import m2m_token_claims as m2mTokenClaims
from claimflow.events import EventView
from claimflow.handler import create_handler
from claimflow.runtime import console
from claimflow.triggers import WorkflowTrigger

__all__ = [
    "EnvironmentVariable",
    "FetchResult",
    "WorkflowSettings",
    "WorkflowTrigger",
    "accessTokenCustomClaims",
    "console",
    "create_handler",
    "denyAccess",
    "fetch",
    "getEnvironmentVariable",
    "idTokenCustomClaims",
    "m2mTokenClaims",
    "onM2MTokenGeneratedEvent",
    "onUserTokenGeneratedEvent",
    "secureFetch",
]

#: The seed's event types, for annotations: ``def workflow(event: onUserTokenGeneratedEvent)``.
type onUserTokenGeneratedEvent = EventView
type onM2MTokenGeneratedEvent = EventView


def WorkflowSettings(
    *,
    id: str,
    trigger: WorkflowTrigger | str,
    name: str | None = None,
    failurePolicy: Mapping[str, str] | str = "stop",
    bindings: Mapping[str, Mapping[str, Any] | None] | None = None,
) -> _settings.WorkflowSettings:
    """The seed's ``WorkflowSettings`` object: ``failurePolicy={"action": "stop" | "continue"}``."""
    return _settings.WorkflowSettings(
        id=id, trigger=trigger, name=name, failure_policy=failurePolicy, bindings=dict(bindings or {})
    )
