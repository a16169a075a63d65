"""The keys package's errors, under claimflow's one root: a token request meets them as
``server_error`` (the stage's keys need fixing, not the request)."""

from __future__ import annotations

from claimflow.errors import ClaimflowError

__all__ = ["SigningKeyError"]


class SigningKeyError(ClaimflowError):
    """The signing key set is missing, malformed, or has no usable active key."""
