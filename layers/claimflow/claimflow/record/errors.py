"""The record package's errors, under claimflow's one root. None reaches a token request's
client: recording happens off the login path, and replay is a local tool."""

from __future__ import annotations

from claimflow.errors import ClaimflowError, FetchError

__all__ = ["RecordingError", "RecordingMissError", "RecordingWriteError"]


class RecordingError(ClaimflowError):
    """A recording cannot be read or used: not JSON, not the recording contract, or from a
    workflow the replay cannot run."""


class RecordingWriteError(RecordingError):
    """A recording could not be stored (the bucket refused it, the directory is not writable)."""


class RecordingMissError(FetchError):
    """During a replay, the workflow fetched something its recording holds no answer for (a
    replay answers every fetch from the recording, never from the network)."""
