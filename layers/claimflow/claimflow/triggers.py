"""The seed's triggers that claimflow runs, and the ones it names only to refuse them."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["UNSUPPORTED_TRIGGERS", "WorkflowTrigger"]


class WorkflowTrigger(StrEnum):
    """The seed's trigger ids that claimflow runs (names as the seed's enum)."""

    UserTokenGeneration = "user:tokens_generation"
    M2MTokenGeneration = "m2m:token_generation"


#: The seed's other triggers: named only to refuse them clearly.
UNSUPPORTED_TRIGGERS = frozenset(
    {
        "user:pre_mfa",
        "user:post_authentication",
        "user:existing_password_provided",
        "user:new_password_provided",
        "user:plan_selection",
        "user:plan_cancellation_request",
        "user:pre_registration",
        "user:new_username_provided",
    }
)
