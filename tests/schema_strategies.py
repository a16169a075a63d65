"""Hypothesis strategies from our contract schemas: the JSON Schema keywords they use
(type, properties, required, const, enum, min/max length and items, pattern, $ref).
``if``/``then`` is resolved by the caller choosing the branch (the trigger)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

_TEXT = st.characters(codec="utf-8", exclude_categories=["Cs"])


def from_schema(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return from_schema(root["definitions"][name], root)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda s: schema.get("minLength", 0) <= len(s) <= schema.get("maxLength", 10**6)
            )
        return st.text(_TEXT, min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 64), 64))
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**31)), schema.get("maximum", 2**31))
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(
            from_schema(schema.get("items", {}), root),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 5), 5),
        )
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: from_schema(v, root) for k, v in properties.items() if k in required},
            optional={k: from_schema(v, root) for k, v in properties.items() if k not in required},
        )
    return st.none() | st.booleans() | st.integers() | st.text(_TEXT, max_size=16)


def token_requests(schema: dict[str, Any], trigger: str) -> st.SearchStrategy[dict[str, Any]]:
    """Schema-valid token requests for one trigger (the schema's if/then picks the subject;
    an M2M request's event carries only the caller's address)."""
    properties = dict(schema["properties"])
    properties["trigger"] = {"const": trigger}
    required = list(schema["required"]) + (["subject"] if trigger == "user:tokens_generation" else [])
    if trigger != "user:tokens_generation":
        properties.pop("subject")
        ip = schema["properties"]["event"]["properties"]["request"]["properties"]["ip"]
        properties["event"] = {"type": "object", "properties": {"request": {"type": "object", "properties": {"ip": ip}}}}
    return from_schema({"type": "object", "properties": properties, "required": required}, schema)  # type: ignore[return-value]
