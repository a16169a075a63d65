"""Structured logs (Powertools Logger) with every known secret value scrubbed from each line:
from the message, its arguments and every extra field before the line is serialised, and
from the serialised line after (JSON escapes included, see ``claimflow.infra.secrets``)."""

from __future__ import annotations

import logging
import sys
import threading
from typing import TYPE_CHECKING, Any

from claimflow.infra.secrets import container_secrets

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

__all__ = ["logger_for"]

#: LogRecord's own attributes; everything else on a record is an extra field.
_STANDARD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


_made: dict[str, Logger] = {}
_making = threading.Lock()


def logger_for(service: str) -> Logger:
    """One Powertools Logger per service per container, redacting secrets from every line.

    Made once even when the first calls race (concurrent workflows in one process): a second
    Powertools Logger for a service finds the first one's handler and comes up without a
    formatter, and ``append_keys`` on it fails."""
    logger = _made.get(service)
    if logger is None:
        with _making:
            logger = _made.get(service) or _made.setdefault(service, _new_logger(service))
    return logger


def _new_logger(service: str) -> Logger:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    class RedactingFormatter(LambdaPowertoolsFormatter):
        def format(self, record: logging.LogRecord) -> str:
            secrets = container_secrets()
            if record.args:
                record.msg, record.args = record.getMessage(), None
            record.msg = secrets.redact_value(record.msg)
            for name, value in list(vars(record).items()):
                if name not in _STANDARD_FIELDS:
                    setattr(record, name, secrets.redact_value(value))
            return secrets.redact(super().format(record))

    return Logger(service=service, logger_formatter=RedactingFormatter(), logger_handler=_StdoutHandler(), use_rfc3339=True)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is now (Lambda's log stream; a test's capture)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass
