"""Custom claims: the reserved names per token, value checks, and the mutable mapping a
workflow writes through. Pure Python; the issuer re-runs the same checks on every patch.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Generator, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from claimflow.errors import ClaimValueError, ReservedClaimError
from claimflow.tokens import TOKENS, TokenKind
from claimflow.wire.contracts import structural_problem

__all__ = [
    "MAX_CLAIM_VALUE_BYTES",
    "NOTHING_RESERVED",
    "RESERVED_CLAIMS",
    "CustomClaims",
    "Reserved",
    "check_claim",
    "check_patch",
]

#: The seed's prohibited claims, plus the RFC 9068 / OIDC claims the issuer mints for that
#: token (``client_id``, ``scope``, ``nonce``, ``gty`` ...): a workflow can never override them.
RESERVED_CLAIMS: Mapping[TokenKind, frozenset[str]] = MappingProxyType({kind: spec.reserved for kind, spec in TOKENS.items()})


@dataclass(frozen=True)
class Reserved:
    """What the token's signer keeps for itself beyond the table's reserved names: claims it
    sets (per token) and name prefixes (Cognito's ``cognito:``). Travels to workflows in the
    invocation, so a workflow that sets one fails at once, in its author's tests too."""

    claims: Mapping[TokenKind, frozenset[str]] = field(default_factory=dict)
    prefixes: tuple[str, ...] = ()
    owner: str = "the issuer sets it"

    def refusal(self, token: TokenKind, name: str) -> ReservedClaimError | None:
        if name in self.claims.get(token, ()):
            return ReservedClaimError(name, token.value, owner=self.owner)
        if self.prefixes and name.startswith(self.prefixes):
            prefix = next(p for p in self.prefixes if name.startswith(p))
            return ReservedClaimError(name, token.value, owner=f"{self.owner}; the {prefix} namespace is reserved")
        return None

    @cached_property
    def wire(self) -> dict[str, Any]:
        """As the invocation request carries it (made once, sent to every workflow)."""
        return {
            "claims": {kind.value: sorted(names) for kind, names in self.claims.items()},
            "prefixes": list(self.prefixes),
            "owner": self.owner,
        }

    @classmethod
    def from_wire(cls, document: Mapping[str, Any] | None) -> Reserved:
        if not document:
            return NOTHING_RESERVED
        return cls(
            claims={TokenKind(kind): frozenset(names) for kind, names in document.get("claims", {}).items()},
            prefixes=tuple(document.get("prefixes", ())),
            owner=str(document.get("owner", "the issuer sets it")),
        )


NOTHING_RESERVED = Reserved()

MAX_CLAIM_VALUE_BYTES = 4096
_MAX_NAME_LENGTH = 256
_MAX_DEPTH = 16
_NAME = re.compile(r"^[^\x00-\x1f]+$")


def check_claim(token: TokenKind, name: object, value: Any, reserved: Reserved = NOTHING_RESERVED) -> Any:
    """Return ``value`` if ``name`` may carry it in ``token``; raise a named error otherwise."""
    if not isinstance(name, str) or not name or len(name) > _MAX_NAME_LENGTH or not _NAME.match(name):
        raise ClaimValueError(f"claim name {name!r} in the {token.value} must be a printable string of 1-256 chars")
    if name in RESERVED_CLAIMS[token]:
        raise ReservedClaimError(name, token.value)
    refusal = reserved.refusal(token, name)
    if refusal is not None:
        raise refusal
    kind = type(value)
    if value is None or kind is bool or kind is int or (kind is str and len(value) * 6 + 2 <= MAX_CLAIM_VALUE_BYTES):
        # Most claims are flags, numbers and short strings: immutable, and within the limit even
        # if every character were escaped; only a string's Unicode is left to check.
        if kind is str and not value.isascii() and structural_problem(value):
            raise ClaimValueError(f"claim '{name}' in the {token.value} {structural_problem(value)}")
        return value
    problem = structural_problem(value, max_depth=_MAX_DEPTH)  # before serializing: bounded, no recursion blow-up
    if problem:
        raise ClaimValueError(f"claim '{name}' in the {token.value} {problem}")
    try:
        encoded = json.dumps(value, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise ClaimValueError(
            f"claim '{name}' in the {token.value}: {type(value).__name__} value is not JSON ({error})"
        ) from None
    size = len(encoded.encode("utf-8"))
    if size > MAX_CLAIM_VALUE_BYTES:
        raise ClaimValueError(
            f"claim '{name}' in the {token.value} is {size} bytes of JSON; the limit is {MAX_CLAIM_VALUE_BYTES}"
        )
    # Store what a JWT will carry (tuples become lists), so later mutation of the caller's
    # object cannot smuggle an unchecked value in.
    return json.loads(encoded)


def check_patch(token: TokenKind, patch: Mapping[str, Any], reserved: Reserved = NOTHING_RESERVED) -> dict[str, Any]:
    """Check every claim of a patch; used by the issuer on each workflow reply."""
    return {name: check_claim(token, name, value, reserved) for name, value in patch.items()}


def _copied(value: Any) -> Any:
    """A list or object claim is read as a copy: changing it in place changes no token (only
    assigning does, and is checked), whether the workflow runs in Lambda or in this process."""
    return copy.deepcopy(value) if isinstance(value, (dict, list)) else value


class CustomClaims(MutableMapping[str, Any]):
    """The current custom claims of one token; every assignment is checked and recorded.

    Attribute access works as in the seed (``access_token.lifetime_subscriber = True``), and a
    claim that was never set reads as None, as JavaScript's ``undefined`` (``in`` tells them apart).
    """

    __slots__ = ("_claims", "_patch", "_reserved", "_token")

    def __init__(
        self, token: TokenKind, current: Mapping[str, Any] | None = None, *, reserved: Reserved = NOTHING_RESERVED
    ) -> None:
        object.__setattr__(self, "_token", token)
        object.__setattr__(self, "_claims", dict(current or {}))
        object.__setattr__(self, "_patch", {})
        object.__setattr__(self, "_reserved", reserved)

    @property
    def token(self) -> TokenKind:
        return self._token  # type: ignore[no-any-return]

    @property
    def patch(self) -> dict[str, Any]:
        """The claims this workflow set, in the order it set them."""
        return dict(self._patch)

    def __await__(self) -> Generator[None, None, CustomClaims]:
        """``await accessTokenCustomClaims()``, as TypeScript lets one write it: the claims, at once."""
        yield from ()
        return self

    def __getitem__(self, name: str) -> Any:
        return _copied(self._claims.get(name))

    def __contains__(self, name: object) -> bool:
        return name in self._claims

    def get(self, name: str, default: Any = None) -> Any:
        return _copied(self._claims[name]) if name in self._claims else default

    def setdefault(self, name: str, default: Any = None) -> Any:
        if name not in self._claims:
            self[name] = default
        return self._claims[name]

    def __setitem__(self, name: str, value: Any) -> None:
        checked = check_claim(self._token, name, value, self._reserved)
        self._claims[name] = checked
        self._patch[name] = checked

    def __delitem__(self, name: str) -> None:
        raise ClaimValueError(
            f"claims cannot be deleted from the {self._token.value} (the seed's API has no delete); "
            f"set '{name}' to another value, or use resetClaims in the binding"
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._claims)

    def __len__(self) -> int:
        return len(self._claims)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and friends probe dunders; they are not claims
            raise AttributeError(name)
        return _copied(self._claims.get(name))

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __repr__(self) -> str:
        return f"CustomClaims({self._token.value}, {self._claims!r})"
