"""Structured logs (Powertools Logger) with every known secret value scrubbed from each line,
and the seed's ``console`` object on top of them.
"""

from __future__ import annotations

import logging
import sys
from functools import cache
from typing import TYPE_CHECKING, Any

from claimflow.env import SecretRegistry

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

__all__ = ["console", "container_secrets", "logger_for"]


@cache
def container_secrets() -> SecretRegistry:
    """The secrets this container has seen; shared by logs, replies and error text."""
    return SecretRegistry()


@cache
def logger_for(service: str) -> Logger:
    """One Powertools Logger per service per container, redacting secrets from every line."""
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    secrets = container_secrets()

    class RedactingFormatter(LambdaPowertoolsFormatter):
        def format(self, record: logging.LogRecord) -> str:
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


class _Console:
    """The seed's ``console``: ``console.log``/``info``/``warn``/``error``/``debug``.

    Always available (the tutorial's second workflow logs without declaring ``console``);
    lines go to the workflow's structured log with its id, trigger and correlation id.
    """

    def _emit(self, level: str, args: tuple[Any, ...]) -> None:
        from claimflow.runtime import _current

        invocation = _current.get()
        logger = logger_for(invocation.settings.id if invocation else "claimflow")
        getattr(logger, level)(" ".join(str(a) for a in args))

    def log(self, *args: Any) -> None:
        self._emit("info", args)

    info = log

    def warn(self, *args: Any) -> None:
        self._emit("warning", args)

    def error(self, *args: Any) -> None:
        self._emit("error", args)

    def debug(self, *args: Any) -> None:
        self._emit("debug", args)


console = _Console()
