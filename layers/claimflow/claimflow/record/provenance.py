"""Where each custom claim of a token came from: the workflow (and its version) whose value the
token carries, and the fetch the value most likely came from.

Which workflow is exact: the last one, in merge order, whose patch holds the value the token
carries (the issuer's rule: later wins). Which fetch is an inference, and says which kind:
a recording notes after how many fetches each claim was set, so the candidates are the fetches
answered before it; of those, the latest whose answer names the claim, else the latest whose
answer holds its value, else the latest of them. A claim set before any fetch came from the
event, the token's claims or the code itself, and has no fetch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from claimflow.record.capture import decode_body

__all__ = ["ClaimOrigin", "FetchOrigin", "attribute_fetch", "explain_recording", "find_token", "version_label", "writers"]


def _name(token: Any) -> str:
    return str(getattr(token, "value", token))


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def writers(
    patches: Mapping[str, Mapping[Any, Mapping[str, Any]]], final: Mapping[Any, Mapping[str, Any]]
) -> dict[str, dict[str, str]]:
    """token -> claim -> the workflow whose value the token carries: the last, in merge order
    (``patches``' order), that set the claim to it. A claim no workflow set is absent."""
    carried = {_name(token): claims for token, claims in final.items()}
    found: dict[str, dict[str, str]] = {}
    for workflow_id, per_token in patches.items():
        for token, patch in per_token.items():
            name = _name(token)
            for claim, value in patch.items():
                if claim in carried.get(name, {}) and _same(carried[name][claim], value):
                    found.setdefault(name, {})[claim] = workflow_id
    return found


def version_label(version: str, code_sha256: str) -> str:
    """``@7`` deployed; locally Lambda says ``$LATEST``, so the code's hash names it."""
    code = f"code:{code_sha256[:12]}" if code_sha256 else ""
    if version and version != "$LATEST":
        return f"@{version}" + (f" ({code})" if code else "")
    return f"@$LATEST ({code})" if code else "@$LATEST"


@dataclass(frozen=True)
class FetchOrigin:
    method: str
    url: str
    status: int
    why: str  # how it was picked (an inference: see the module's docstring)


@dataclass(frozen=True)
class ClaimOrigin:
    token: str
    claim: str
    value: Any
    workflow: str | None  # None: the identity stack's token request carried it
    version: str = ""
    fetch: FetchOrigin | None = None
    overridden: tuple[str, ...] = ()  # earlier workflows that set it too (the later won)


def _keys_and_values(node: Any, depth: int = 0) -> Iterator[tuple[str | None, Any]]:
    if depth > 16:
        return
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield str(key), value
            yield from _keys_and_values(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield None, item
            yield from _keys_and_values(item, depth + 1)


def _answer(exchange: Mapping[str, Any]) -> Any:
    try:
        return json.loads(decode_body(exchange["response"]))
    except ValueError:
        return None


def attribute_fetch(workflow: Mapping[str, Any], token: str, claim: str, value: Any) -> FetchOrigin | None:
    """The fetch ``claim``'s value most likely came from, in one workflow's recording."""
    fetches: Sequence[Mapping[str, Any]] = workflow.get("fetches", [])
    sets = [e for e in workflow.get("claims_set", []) if e.get("token") == token and e.get("name") == claim]
    before = fetches[: sets[-1]["after_fetches"]] if sets else fetches
    if not before:
        return None
    scored = [(exchange, list(_keys_and_values(_answer(exchange)))) for exchange in before]

    def names(pairs: list[tuple[str | None, Any]]) -> bool:
        return any(key == claim for key, _ in pairs)

    def holds(pairs: list[tuple[str | None, Any]]) -> bool:
        return any(v == value and type(v) is type(value) for _, v in pairs)

    for why, test in ((f"its answer names {claim}", names), ("its answer holds the value", holds)):
        for exchange, pairs in reversed(scored):
            if test(pairs):
                return _origin(exchange, why)
    return _origin(before[-1], "the last fetch before the claim was set")


def _origin(exchange: Mapping[str, Any], why: str) -> FetchOrigin:
    request, response = exchange["request"], exchange["response"]
    return FetchOrigin(str(request["method"]), str(request["url"]), int(response["status"]), why)


def find_token(recording: Mapping[str, Any], jti: str) -> str | None:
    """The token kind in ``recording`` whose ``jti`` this is, if any."""
    return next((kind for kind, token in recording.get("tokens", {}).items() if token.get("jti") == jti), None)


def explain_recording(recording: Mapping[str, Any], token: str) -> list[ClaimOrigin]:
    """Each custom claim of ``token`` in ``recording``, with where it came from."""
    custom: Mapping[str, Any] = recording["tokens"][token]["custom"]
    workflows = [w for w in recording.get("workflows", []) if w.get("outcome") == "ok"]
    patches = {w["id"]: {t: p.get("set", {}) for t, p in w.get("patches", {}).items()} for w in workflows}
    by_id = {w["id"]: w for w in workflows}
    won = writers(patches, {token: custom}).get(token, {})
    origins = []
    for claim, value in sorted(custom.items()):
        workflow_id = won.get(claim)
        if workflow_id is None:
            origins.append(ClaimOrigin(token, claim, value, None))
            continue
        workflow = by_id[workflow_id]
        overridden = tuple(w for w, per in patches.items() if w != workflow_id and claim in per.get(token, {}))
        origins.append(
            ClaimOrigin(
                token,
                claim,
                value,
                workflow_id,
                version_label(str(workflow.get("version", "")), str(workflow.get("code_sha256", ""))),
                attribute_fetch(workflow, token, claim, value),
                overridden,
            )
        )
    return origins
