"""Where recordings go (``RecordingSink``): a directory (local mode: ``.claimflow/recordings``),
memory (tests), or S3 (``claimflow.record.s3_sink``); and the issuer's recorder, from its
environment (the template's ``RecordSampleRate``, its bucket and key; local mode's directory).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path

from claimflow.environment import DEFAULT_STAGE, Env, SsmPaths, env_flag, env_float, env_str
from claimflow.infra.secrets import container_secrets
from claimflow.record.errors import RecordingWriteError
from claimflow.record.recorder import Recorder, RecordingSink

__all__ = ["DirectorySink", "InMemorySink", "recorder_from_environment"]


class DirectorySink:
    """Each recording a file in ``directory`` (made on the first write), written whole then renamed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, name: str, body: bytes) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = self.directory / f".{name}.partial"
            partial.write_bytes(body)
            os.replace(partial, self.directory / name)  # a reader never sees half a recording
        except OSError as error:
            raise RecordingWriteError(f"cannot write {name} in {self.directory}: {error}") from None


class InMemorySink:
    """Recordings in a dict, by name (unit tests)."""

    def __init__(self) -> None:
        self.recordings: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def write(self, name: str, body: bytes) -> None:
        with self._lock:
            self.recordings[name] = body


def recorder_from_environment(environ: Mapping[str, str] | None = None) -> Recorder | None:
    """The issuer's recorder, or None when this stage records nothing.

    Local mode with ``CLAIMFLOW_RECORD_DIR``: every login, to that directory. Deployed:
    ``CLAIMFLOW_RECORD_SAMPLE_RATE`` of them (0 by default) to ``CLAIMFLOW_RECORD_BUCKET``,
    encrypted under ``CLAIMFLOW_RECORD_KMS_KEY``. The S3 adapter is imported only then."""
    environ = os.environ if environ is None else environ
    paths = SsmPaths(stage=env_str(Env.STAGE, DEFAULT_STAGE, environ))
    directory = env_str(Env.RECORD_DIR, "", environ)
    sink: RecordingSink
    if directory and env_flag(Env.LOCAL_MODE, environ):
        sink, rate = DirectorySink(Path(directory)), 1.0
    else:
        rate = env_float(Env.RECORD_SAMPLE_RATE, 0.0, environ)
        bucket = env_str(Env.RECORD_BUCKET, "", environ)
        if rate <= 0 or not bucket:
            return None
        from claimflow.record.s3_sink import S3RecordingSink

        sink = S3RecordingSink(bucket=bucket, prefix=paths.recordings_prefix(), kms_key=env_str(Env.RECORD_KMS_KEY, "", environ))
    return Recorder(sink, sample_rate=rate, stage=paths.stage, secrets=container_secrets())
