"""The one builder of the seed-shaped event a workflow receives (``event.request``,
``event.context``), from what the identity stack decided. The issuer's token requests, the
Cognito adapter, the example identity stack, the testing kit and preview all build it here,
so every workflow sees the same shape whoever called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from claimflow.triggers import WorkflowTrigger

__all__ = ["DERIVED_FIELDS", "seed_event"]

#: Event fields the builder takes from the request's own fields (path -> the field it comes from).
DERIVED_FIELDS: Mapping[str, str] = {
    "request.auth": "audience and scope",
    "context.user.id": "subject",
    "context.application": "client_id",
    "context.workflow": "trigger",
    "context.domains": "the issuer's URL",
    "context.organization": "organization",
}


def seed_event(
    trigger: WorkflowTrigger | str,
    *,
    client_id: str,
    audience: Sequence[str],
    domain: str,
    subject: str | None = None,
    scope: Sequence[str] = (),
    organization: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    auth: Mapping[str, Any] | None = None,
    identity_id: str | None = None,
) -> dict[str, Any]:
    """The seed's event for ``trigger``. ``auth`` is the seed's ``context.auth`` (``origin``,
    ``connectionId``, ``isExistingSession``); ``domain`` is ``context.domains.kindeDomain``."""
    trigger = WorkflowTrigger(trigger)
    request: dict[str, Any] = {}
    if ip is not None:
        request["ip"] = ip
    if user_agent is not None and trigger is WorkflowTrigger.UserTokenGeneration:
        request["userAgent"] = user_agent
    request["auth"] = {"audience": list(audience), "scope": list(scope)}
    context: dict[str, Any] = {}
    if trigger is WorkflowTrigger.UserTokenGeneration:
        if auth:
            context["auth"] = dict(auth)
        if not subject:
            raise ValueError("a user:tokens_generation event needs the subject (context.user.id)")
        context["user"] = {"id": subject, **({"identityId": identity_id} if identity_id else {})}
    context["domains"] = {"kindeDomain": domain}
    context["workflow"] = {"trigger": trigger.value}
    context["application"] = {"clientId": client_id}
    if organization:
        context["organization"] = {"code": organization}
    return {"request": request, "context": context}
