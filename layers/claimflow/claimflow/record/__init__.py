"""Recordings of real logins, and what replays them against a change.

- ``capture``: what one workflow run saw and did (every fetch's answer, the names of the
  environment variables it read, the claims it set), gathered where the workflow runs and
  returned to the issuer in its reply only when the issuer asks;
- ``replaying``: a workflow run whose fetches and variables are answered from a recording
  (local mode only: ``claimflow replay``);
- ``recorder``: the issuer's side, a sampled token request made into one recording and written
  off the login path (``sinks``: a directory locally, ``s3_sink``: S3 with SSE-KMS);
- ``diff`` and ``provenance``: the per-claim difference between two runs, and which workflow,
  version and fetch each claim came from.

Nothing here imports the issuer (the issuer imports this package), and nothing but
``s3_sink`` speaks to AWS. Submodules are imported where they are used: a workflow that is not
recording loads ``capture`` alone.
"""

from claimflow.record.errors import RecordingError, RecordingMissError, RecordingWriteError

__all__ = ["RecordingError", "RecordingMissError", "RecordingWriteError"]
