"""A workflow's settings: id, trigger, failure policy and the bindings it declares.

Validated when constructed, which is when the workflow module loads, so a bad workflow fails
in its first test rather than on a user's login.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from claimflow.binding_table import BINDINGS
from claimflow.errors import InvalidSettingsError
from claimflow.tokens import TOKENS, TokenKind
from claimflow.triggers import UNSUPPORTED_TRIGGERS, WorkflowTrigger

__all__ = ["FailurePolicy", "WorkflowSettings"]


class FailurePolicy(StrEnum):
    """What a failure of the workflow does to the token request."""

    STOP = "stop"  # no token: the request fails with server_error
    CONTINUE = "continue"  # the token is issued without this workflow's changes


_ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def _parse_trigger(value: object) -> WorkflowTrigger:
    try:
        return WorkflowTrigger(str(value) if isinstance(value, str) else "")
    except ValueError:
        supported = ", ".join(t.value for t in WorkflowTrigger)
        if value in UNSUPPORTED_TRIGGERS:
            raise InvalidSettingsError(
                f"workflow_settings.trigger: '{value}' is a seed trigger claimflow does not run yet; use one of: {supported}"
            ) from None
        raise InvalidSettingsError(f"workflow_settings.trigger: {value!r} is not a trigger; use one of: {supported}") from None


def _parse_failure_policy(value: object) -> FailurePolicy:
    # The seed spells it {"action": "stop"}; a plain string is accepted too.
    action = value.get("action") if isinstance(value, Mapping) else value
    try:
        return FailurePolicy(action if isinstance(action, str) else "")
    except ValueError:
        raise InvalidSettingsError(
            f"workflow_settings.failure_policy: {value!r} is not a policy; use 'stop' or 'continue'"
        ) from None


def _parse_bindings(value: object, trigger: WorkflowTrigger) -> Mapping[str, Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        raise InvalidSettingsError("workflow_settings.bindings must be a mapping of binding id to options")
    parsed: dict[str, Mapping[str, Any]] = {}
    for name, options in value.items():
        spec = BINDINGS.get(str(name))
        if spec is None:
            raise InvalidSettingsError(
                f"workflow_settings.bindings: {name!r} is not a binding; use one of: {', '.join(BINDINGS)}"
            )
        options = {} if options is None else options
        if not isinstance(options, Mapping):
            raise InvalidSettingsError(f"workflow_settings.bindings['{name}'] options must be a mapping, e.g. {{}}")
        where = f"workflow_settings.bindings['{name}']"
        for option, option_value in options.items():
            expected = spec.options.get(option)
            if expected is None:
                hint = ", ".join(spec.options) or "none"
                raise InvalidSettingsError(f"{where}: unknown option {option!r} (accepted: {hint})")
            if not isinstance(option_value, expected):
                raise InvalidSettingsError(f"{where}.{option} must be a {expected.__name__}")
        if spec.token is not None and trigger not in TOKENS[spec.token].triggers:
            produced = ", ".join(sorted(t.kind.value for t in TOKENS.values() if trigger in t.triggers))
            raise InvalidSettingsError(
                f"workflow_settings.bindings: '{spec.name}' does not apply to trigger '{trigger.value}', "
                f"which produces {produced}"
            )
        parsed[spec.name] = MappingProxyType(dict(options))
    hosts = parsed.get("url", {}).get("allowedHosts", [])
    if not all(isinstance(h, str) and h for h in hosts):
        raise InvalidSettingsError("workflow_settings.bindings['url'].allowedHosts must list host names")
    return MappingProxyType(parsed)


@dataclass(frozen=True, kw_only=True)
class WorkflowSettings:
    """The seed's ``workflowSettings`` export, validated field by field."""

    id: str
    trigger: WorkflowTrigger | str
    name: str | None = None
    failure_policy: FailurePolicy | str | Mapping[str, str] = FailurePolicy.STOP
    bindings: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID_PATTERN.match(self.id):
            raise InvalidSettingsError(
                f"workflow_settings.id: {self.id!r} must start with a letter and hold at most 64 letters, digits, '-' or '_'"
            )
        trigger = _parse_trigger(self.trigger)
        object.__setattr__(self, "trigger", trigger)
        object.__setattr__(self, "failure_policy", _parse_failure_policy(self.failure_policy))
        object.__setattr__(self, "bindings", _parse_bindings(self.bindings, trigger))
        if self.name is not None and not isinstance(self.name, str):
            raise InvalidSettingsError("workflow_settings.name must be a string")

    @property
    def workflow_trigger(self) -> WorkflowTrigger:
        return self.trigger  # type: ignore[return-value]  # __post_init__ made it a WorkflowTrigger

    @property
    def policy(self) -> FailurePolicy:
        return self.failure_policy  # type: ignore[return-value]  # __post_init__ made it a FailurePolicy

    def declares(self, binding: str) -> bool:
        return binding in self.bindings

    def option(self, binding: str, name: str, default: Any = None) -> Any:
        return (self.bindings.get(binding) or {}).get(name, default)

    def token_kinds(self) -> tuple[TokenKind, ...]:
        """The tokens this workflow declared a binding for, in table order."""
        return tuple(kind for kind, spec in TOKENS.items() if spec.binding in self.bindings)

    def resets(self, token: TokenKind) -> bool:
        """Whether the token's binding asks to start from the token's defaults (``resetClaims``)."""
        return bool(self.option(TOKENS[token].binding, "resetClaims", False))
