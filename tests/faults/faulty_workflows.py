"""Workflows that misbehave on purpose, deployed beside the real ones by the fault suite."""

import os
import time

from claimflow import (
    CustomClaims,
    EventView,
    TokenKind,
    WorkflowSettings,
    access_token_custom_claims,
    create_handler,
    fetch,
)

USER = "user:tokens_generation"
ACCESS = {"kinde.accessToken": {}}


def _raise(event: EventView) -> None:
    access_token_custom_claims()["half_done"] = True
    raise RuntimeError("the workflow's own bug")


def _sleep(event: EventView) -> None:
    time.sleep(30)


def _side_effect_then_sleep(event: EventView) -> None:
    fetch(f"{os.environ['API_BASE_URL']}/api/user/side-effect")  # what must happen once per token request
    time.sleep(3)


raises = create_handler(WorkflowSettings(id="raises", trigger=USER, bindings=ACCESS), _raise)
lambda_timeout = create_handler(WorkflowSettings(id="lambdaTimeout", trigger=USER, bindings=ACCESS), _sleep)
slow_side_effect = create_handler(
    WorkflowSettings(id="slowSideEffect", trigger=USER, bindings={**ACCESS, "kinde.fetch": {}, "url": {}}),
    _side_effect_then_sleep,
)


def malformed(event, context):  # type: ignore[no-untyped-def]
    return {"outcome": "fine, thanks"}


def reserved(event, context):  # type: ignore[no-untyped-def]
    """Skips the layer's checks and claims to be someone else, as a compromised workflow might."""
    assert CustomClaims(TokenKind.ACCESS)  # the layer is present; this reply bypasses it on purpose
    return {
        "contract": "claimflow.workflow-invocation/v1",
        "workflow_id": "reserved",
        "outcome": "ok",
        "patches": {"access_token": {"set": {"sub": "admin", "role": "root"}, "reset": False}},
        "reason": None,
        "error": None,
        "duration_ms": 1.0,
    }


def exits(event, context):  # type: ignore[no-untyped-def]
    os._exit(3)
