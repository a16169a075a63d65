"""Which workflows run for a trigger, in what order, under what policy: configuration.

In AWS it is the issuer's ``CLAIMFLOW_WORKFLOWS`` variable, written in ``template.yaml``
with each function's name; the issuer never imports workflow code.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from claimflow.errors import ConfigurationError
from claimflow.settings import FailurePolicy
from claimflow.triggers import WorkflowTrigger

__all__ = ["WorkflowRegistration", "WorkflowRegistry"]

DEFAULT_WORKFLOW_TIMEOUT_MS = 2000


@dataclass(frozen=True, kw_only=True)
class WorkflowRegistration:
    id: str
    trigger: WorkflowTrigger
    function: str
    failure_policy: FailurePolicy = FailurePolicy.STOP
    timeout_ms: int = DEFAULT_WORKFLOW_TIMEOUT_MS

    def __post_init__(self) -> None:
        # Accept the wire spellings ("user:tokens_generation", "continue") as well as the enums.
        try:
            object.__setattr__(self, "trigger", WorkflowTrigger(self.trigger))
            object.__setattr__(self, "failure_policy", FailurePolicy(self.failure_policy))
        except ValueError as error:
            raise ConfigurationError(f"workflow registry entry '{self.id}': {error}") from None


class WorkflowRegistry:
    """The ordered registrations per trigger."""

    def __init__(self, registrations: Sequence[WorkflowRegistration]) -> None:
        seen: set[str] = set()
        for registration in registrations:
            if registration.id in seen:
                raise ConfigurationError(f"workflow registry: id '{registration.id}' is registered twice")
            seen.add(registration.id)
        self.registrations = tuple(registrations)

    def without(self, disabled: Collection[str]) -> WorkflowRegistry:
        """The registry less the ``disabled`` ids (a stage's ``DisabledWorkflows``); an id that
        is not registered is a configuration error, so a typo cannot leave a workflow running."""
        unknown = sorted(set(disabled) - {r.id for r in self.registrations})
        if unknown:
            registered = ", ".join(r.id for r in self.registrations) or "none"
            raise ConfigurationError(
                f"DisabledWorkflows names {', '.join(unknown)}, which the registry does not hold (registered: {registered})"
            )
        return WorkflowRegistry([r for r in self.registrations if r.id not in disabled])

    def for_trigger(self, trigger: WorkflowTrigger) -> tuple[WorkflowRegistration, ...]:
        return tuple(r for r in self.registrations if r.trigger is trigger)

    @classmethod
    def from_json(cls, text: str) -> WorkflowRegistry:
        """Parse ``[{"id", "trigger", "function", "failure_policy"?, "timeout_ms"?}, ...]``."""
        try:
            entries = json.loads(text or "[]")
        except ValueError as error:
            raise ConfigurationError(f"workflow registry is not JSON: {error}") from None
        if not isinstance(entries, list):
            raise ConfigurationError("workflow registry must be a JSON list of workflows")
        return cls([_entry(i, e) for i, e in enumerate(entries)])


def _entry(index: int, entry: Any) -> WorkflowRegistration:
    where = f"workflow registry[{index}]"
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{where} must be an object")
    unknown = set(entry) - {"id", "trigger", "function", "failure_policy", "timeout_ms"}
    if unknown:
        raise ConfigurationError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for name in ("id", "trigger", "function"):
        if not isinstance(entry.get(name), str) or not entry[name]:
            raise ConfigurationError(f"{where}.{name} must be a non-empty string")
    timeout = entry.get("timeout_ms", DEFAULT_WORKFLOW_TIMEOUT_MS)
    if not isinstance(timeout, int) or not 1 <= timeout <= 900_000:
        raise ConfigurationError(f"{where}.timeout_ms must be a whole number of milliseconds, 1-900000")
    return WorkflowRegistration(
        id=entry["id"],
        trigger=entry["trigger"],
        function=entry["function"],
        failure_policy=entry.get("failure_policy", FailurePolicy.STOP),
        timeout_ms=timeout,
    )
