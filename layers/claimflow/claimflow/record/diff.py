"""The per-claim difference between two runs of a login: claims added, removed and changed
(old → new), per token. Values compare as JSON does (``true`` is not ``1``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ClaimChange", "diff_claims", "show"]

Change = Literal["added", "removed", "changed"]
_MISSING = object()


@dataclass(frozen=True)
class ClaimChange:
    token: str
    claim: str
    change: Change
    old: Any = None
    new: Any = None

    def __str__(self) -> str:
        if self.change == "added":
            return f"+ {self.claim} = {show(self.new)}"
        if self.change == "removed":
            return f"- {self.claim} (was {show(self.old)})"
        return f"~ {self.claim}: {show(self.old)} → {show(self.new)}"


def show(value: Any, *, limit: int = 60) -> str:
    """A value as JSON, cut to ``limit`` characters."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _same(old: Any, new: Any) -> bool:
    return json.dumps(old, sort_keys=True) == json.dumps(new, sort_keys=True)


def diff_claims(old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]) -> list[ClaimChange]:
    """Every claim that differs, token by token (``old``/``new``: token name -> claims), in a
    stable order: tokens as ``old`` lists them then new ones, claims by name."""
    changes: list[ClaimChange] = []
    for token in [*old, *(t for t in new if t not in old)]:
        before, after = old.get(token, {}), new.get(token, {})
        for claim in sorted({*before, *after}):
            was, now = before.get(claim, _MISSING), after.get(claim, _MISSING)
            if was is _MISSING:
                changes.append(ClaimChange(token, claim, "added", new=now))
            elif now is _MISSING:
                changes.append(ClaimChange(token, claim, "removed", old=was))
            elif not _same(was, now):
                changes.append(ClaimChange(token, claim, "changed", was, now))
    return changes
