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

from claimflow.errors import InvalidSettingsError

__all__ = [
    "Binding",
    "FailurePolicy",
    "TokenKind",
    "WorkflowSettings",
    "WorkflowTrigger",
]


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


class FailurePolicy(StrEnum):
    """What a failure of the workflow does to the token request."""

    STOP = "stop"  # no token: the request fails with server_error
    CONTINUE = "continue"  # the token is issued without this workflow's changes


class TokenKind(StrEnum):
    """The tokens a workflow can add claims to; values are the wire names."""

    ACCESS = "access_token"
    ID = "id_token"
    M2M = "m2m_token"


class Binding(StrEnum):
    """The seed's binding ids, spelled as the seed spells them."""

    ACCESS_TOKEN = "kinde.accessToken"
    ID_TOKEN = "kinde.idToken"
    M2M_TOKEN = "kinde.m2mToken"
    FETCH = "kinde.fetch"
    SECURE_FETCH = "kinde.secureFetch"
    ENV = "kinde.env"
    AUTH = "kinde.auth"
    URL = "url"
    CONSOLE = "console"


TOKEN_BINDINGS: Mapping[TokenKind, Binding] = MappingProxyType(
    {TokenKind.ACCESS: Binding.ACCESS_TOKEN, TokenKind.ID: Binding.ID_TOKEN, TokenKind.M2M: Binding.M2M_TOKEN}
)

#: Which tokens each trigger produces.
TRIGGER_TOKENS: Mapping[WorkflowTrigger, frozenset[TokenKind]] = MappingProxyType(
    {
        WorkflowTrigger.UserTokenGeneration: frozenset({TokenKind.ACCESS, TokenKind.ID}),
        WorkflowTrigger.M2MTokenGeneration: frozenset({TokenKind.M2M}),
    }
)

#: Options each binding accepts, with the type each must have.
_BINDING_OPTIONS: Mapping[Binding, Mapping[str, type]] = {
    Binding.ACCESS_TOKEN: {"resetClaims": bool},
    Binding.ID_TOKEN: {"resetClaims": bool},
    Binding.M2M_TOKEN: {"resetClaims": bool},
    Binding.URL: {"allowedHosts": list},
}

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


def _parse_bindings(value: object, trigger: WorkflowTrigger) -> Mapping[Binding, Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        raise InvalidSettingsError("workflow_settings.bindings must be a mapping of binding id to options")
    known = ", ".join(b.value for b in Binding)
    parsed: dict[Binding, Mapping[str, Any]] = {}
    for name, options in value.items():
        try:
            binding = Binding(name)
        except ValueError:
            raise InvalidSettingsError(f"workflow_settings.bindings: {name!r} is not a binding; use one of: {known}") from None
        options = {} if options is None else options
        if not isinstance(options, Mapping):
            raise InvalidSettingsError(f"workflow_settings.bindings['{name}'] options must be a mapping, e.g. {{}}")
        allowed = _BINDING_OPTIONS.get(binding, {})
        for option, option_value in options.items():
            if option not in allowed:
                hint = ", ".join(allowed) or "none"
                raise InvalidSettingsError(f"workflow_settings.bindings['{name}']: unknown option {option!r} (accepted: {hint})")
            if not isinstance(option_value, allowed[option]):
                raise InvalidSettingsError(f"workflow_settings.bindings['{name}'].{option} must be a {allowed[option].__name__}")
        parsed[binding] = MappingProxyType(dict(options))
    for token, binding in TOKEN_BINDINGS.items():
        if binding in parsed and token not in TRIGGER_TOKENS[trigger]:
            raise InvalidSettingsError(
                f"workflow_settings.bindings: '{binding.value}' does not apply to trigger '{trigger.value}', "
                f"which produces {', '.join(sorted(t.value for t in TRIGGER_TOKENS[trigger]))}"
            )
    hosts = parsed.get(Binding.URL, {}).get("allowedHosts", [])
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
    bindings: Mapping[Binding | str, Mapping[str, Any] | None] = field(default_factory=dict)

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

    def declares(self, binding: Binding) -> bool:
        return binding in self.bindings

    def option(self, binding: Binding, name: str, default: Any = None) -> Any:
        return (self.bindings.get(binding) or {}).get(name, default)

    def token_kinds(self) -> frozenset[TokenKind]:
        """The tokens this workflow declared a binding for."""
        return frozenset(t for t, b in TOKEN_BINDINGS.items() if b in self.bindings)
