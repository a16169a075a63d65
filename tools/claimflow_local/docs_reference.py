"""The docs site's reference pages, generated from what they describe so they cannot drift:
the command line from its argparse parsers and the Makefile's ``## `` comments, the template
parameters and outputs from ``template.yaml``, the wire contracts from their JSON Schemas, and
the claims hooks from their roster. (The workflow API page is mkdocstrings reading
``claimflow.__all__``.)

    python -m claimflow_local.docs_reference [--root DIR]

prints ``{"pages": {path: markdown}, "fragments": {name: markdown}}``; the site's build hook
(``docs/hooks/generated.py``) adds the pages and puts each fragment where a page says
``<!-- generated:NAME -->``. It runs in the project's venv, which has the code it reads.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from claimflow_local.template import SamTemplate

__all__ = ["DocsReferenceError", "cli_page", "contracts_page", "generate", "hooks_table", "make_targets", "parameters_page"]

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = Path("layers/claimflow/claimflow/wire/schemas")
#: ``--help`` wraps to the terminal; the pages wrap to this, whatever terminal builds them.
HELP_COLUMNS = 88
#: A Makefile target documents itself as ``name: prerequisites ## what it does`` (as ``make help`` reads it).
_MAKE_TARGET = re.compile(r"^([a-z][a-z-]*):[^=#]*## (.*)$")


class DocsReferenceError(Exception):
    """Something a reference page is made from does not say what the page needs (named in the message)."""


def _cell(text: Any) -> str:
    """Text fit for one cell of a markdown table: one line; outside code spans (where the table
    reader leaves pipes alone) pipes escaped and ``<Stage>`` kept as text, not read as a tag."""
    parts = " ".join(str(text).split()).split("`")
    escaped = (part.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;") for part in parts[::2])
    parts[::2] = list(escaped)
    return "`".join(parts)


def _code(value: Any) -> str:
    shown = json.dumps(value) if not isinstance(value, str) else value
    return f"`{shown}`" if shown != "" else '`""`'


# --- the command line ---------------------------------------------------------------------------
def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name, ""), sub


def _help_text(parser: argparse.ArgumentParser) -> str:
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(HELP_COLUMNS)
    try:
        return parser.format_help().rstrip()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def make_targets(makefile: Path) -> list[tuple[str, str]]:
    """Each documented target and what it does, in the Makefile's order (what ``make help`` prints)."""
    targets = [(m[1], m[2].strip()) for line in makefile.read_text().splitlines() if (m := _MAKE_TARGET.match(line))]
    if not targets:
        raise DocsReferenceError(f"{makefile} documents no target (`name: ... ## what it does`)")
    return targets


def cli_page(parser: argparse.ArgumentParser, *, makefile: Path) -> str:
    lines = [
        "# Command line",
        "",
        "Generated from the command line's own parsers (`tools/claimflow_local/cli/`) and the",
        "Makefile's target comments, so it says what `--help` and `make help` say.",
        "",
        "## `./claimflow`",
        "",
        "The workflow author's command line; `./claimflow` runs it in the project's venv (building it first if",
        "need be). Every failure is one line on standard error naming the fix.",
        "",
        "```text",
        _help_text(parser),
        "```",
    ]
    for name, summary, sub in _subcommands(parser):
        lines += ["", f"### `claimflow {name}`", ""]
        if summary:
            lines += [summary[0].upper() + summary[1:] + ".", ""]
        lines += ["```text", _help_text(sub), "```"]
    lines += [
        "",
        "## `make` targets",
        "",
        "| target | what it does |",
        "|---|---|",
        *(f"| `make {name}` | {_cell(what)} |" for name, what in make_targets(makefile)),
    ]
    return "\n".join(lines) + "\n"


# --- template parameters and outputs --------------------------------------------------------------
def _allowed(spec: Mapping[str, Any]) -> str:
    parts = []
    if "AllowedValues" in spec:
        parts.append(", ".join(_code(v) for v in spec["AllowedValues"]))
    if "MinValue" in spec or "MaxValue" in spec:
        parts.append(f"{spec.get('MinValue', '…')} – {spec.get('MaxValue', '…')}")
    if "AllowedPattern" in spec:
        parts.append(f"pattern `{spec['AllowedPattern']}`")
    return "; ".join(parts) or "any"


def parameters_page(template_path: Path) -> str:
    document = SamTemplate.load(template_path).document
    parameters: Mapping[str, Any] = document.get("Parameters") or {}
    undocumented = [name for name, spec in parameters.items() if not str(spec.get("Description", "")).strip()]
    if undocumented:
        raise DocsReferenceError(
            f"{template_path.name}: parameter(s) {', '.join(undocumented)} have no Description; "
            "every parameter says what it does (it is what sam deploy --guided and this reference show)"
        )
    lines = [
        "# Template parameters and outputs",
        "",
        "Generated from `template.yaml`'s `Parameters` and `Outputs`: each row is what the template says.",
        "Set a parameter with `sam deploy --parameter-overrides Name=value` or in a `samconfig.toml` section;",
        "`tests/template/test_parameters_and_outputs.py` holds that each one changes what deploys.",
        "",
        "## Parameters",
        "",
        "| parameter | what it does |",
        "|---|---|",
    ]
    for name, spec in parameters.items():
        default = _code(spec["Default"]) if "Default" in spec else "(required)"
        facts = f"default {default} · {spec.get('Type', 'String')}, allowed: {_allowed(spec)}"
        lines.append(f"| **{name}** | {_cell(spec['Description'])}<br>*{_cell(facts)}* |")
    lines += ["", "## Outputs", "", "| output | what it is | only when |", "|---|---|---|"]
    for name, spec in (document.get("Outputs") or {}).items():
        condition = f"`{spec['Condition']}`" if "Condition" in spec else ""
        lines.append(f"| `{name}` | {_cell(spec.get('Description', ''))} | {condition} |")
    return "\n".join(lines) + "\n"


# --- wire contracts -----------------------------------------------------------------------------
def _resolve(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return node
    if not ref.startswith("#/"):
        raise DocsReferenceError(f"{schema.get('title')}: only local $refs are documented, not {ref}")
    target: Any = schema
    for part in ref[2:].split("/"):
        target = target[part]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def _type(node: Mapping[str, Any]) -> str:
    if "const" in node:
        return _code(node["const"])
    if "enum" in node:
        return " \\| ".join(_code(v) for v in node["enum"])
    if "oneOf" in node:
        return " or ".join(_type(option) for option in node["oneOf"])
    kind = node.get("type", "any")
    kind = " or ".join(kind) if isinstance(kind, list) else str(kind)
    if kind == "array" and isinstance(node.get("items"), Mapping):
        kind = f"array of {_type(node['items'])}"
    return kind


_LIMITS = (
    ("minLength", "≥ {} chars"),
    ("maxLength", "≤ {} chars"),
    ("minItems", "≥ {} items"),
    ("maxItems", "≤ {} items"),
    ("maxProperties", "≤ {} claims"),
    ("minimum", "≥ {}"),
    ("maximum", "≤ {}"),
    ("pattern", "pattern `{}`"),
)


def _limits(node: Mapping[str, Any]) -> str:
    found = [text.format(node[key]) for key, text in _LIMITS if key in node]
    items = node.get("items")
    if isinstance(items, Mapping):
        found += [f"each {text.format(items[key])}" for key, text in _LIMITS if key in items]
    return "; ".join(found)


def _fields(schema: Mapping[str, Any], node: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, bool, str, str, str]]:
    node = _resolve(schema, node)
    required = set(node.get("required") or ())
    for name, child in (node.get("properties") or {}).items():
        child = _resolve(schema, child)
        path = f"{prefix}{name}"
        yield path, name in required, _type(child), _limits(child), str(child.get("description", ""))
        if isinstance(child.get("properties"), Mapping):
            yield from _fields(schema, child, f"{path}.")
        for option in child.get("oneOf") or ():
            if isinstance(option, Mapping) and isinstance(option.get("properties"), Mapping):
                yield from _fields(schema, option, f"{path}.")


def _table(schema: Mapping[str, Any], node: Mapping[str, Any]) -> list[str]:
    node = _resolve(schema, node)
    closed = ["Members not listed are refused.", ""] if node.get("additionalProperties") is False else []
    lines = [*closed, "| field | required | type | limits | notes |", "|---|---|---|---|---|"]
    for field_path, needed, kind, limits, notes in _fields(schema, node):
        lines.append(f"| `{field_path}` | {'yes' if needed else ''} | {kind} | {_cell(limits)} | {_cell(notes)} |")
    return lines


def _contract_of(schema: Mapping[str, Any]) -> str:
    for node in (schema, *(schema.get("oneOf") or ())):
        const = ((node.get("properties") or {}).get("contract") or {}).get("const")
        if const:
            return str(const)
    return ""


def contracts_page(schema_dir: Path) -> str:
    lines = [
        "# Wire contracts",
        "",
        "Generated from the JSON Schemas in",
        f"`{SCHEMAS.as_posix()}/`, which the issuer and the workflows validate every message",
        "against (and `tests/contract` validates every sample in `events/` and every kind of reply).",
        "A field path with dots is a member of the object above it.",
        "Rules across fields (`if`/`then`) are quoted from the schema's `$comment`.",
    ]
    schemas = sorted(schema_dir.glob("*.json"))
    if not schemas:
        raise DocsReferenceError(f"no JSON Schemas in {schema_dir}")
    for path in schemas:
        schema = json.loads(path.read_text())
        contract = _contract_of(schema)
        lines += ["", f"## {schema.get('title', path.stem)}", ""]
        lines += [f"Contract `{contract}`, schema `{path.name}`." if contract else f"Schema `{path.name}`.", ""]
        if schema.get("description"):
            lines += [_cell(schema["description"]).replace("->", "→") + ".", ""]
        if schema.get("$comment"):
            lines += [f"Rule: {_cell(schema['$comment'])}.", ""]
        if schema.get("properties"):
            lines += _table(schema, schema)
        for number, option in enumerate(schema.get("oneOf") or (), start=1):
            members = ", ".join(f"`{name}`" for name in option.get("required") or ())
            lines += ["", f"**One of the shapes, {number}** (with {members}):", "", *_table(schema, option)]
        for name, definition in (schema.get("definitions") or {}).items():
            if isinstance(definition, Mapping) and definition.get("properties"):
                lines += ["", f"**`{name}`** (`#/definitions/{name}`):", "", *_table(schema, definition)]
        lines += [
            "",
            f'??? note "The whole schema, `{path.name}`"',
            "",
            "    ```json",
            *(f"    {line}" for line in json.dumps(schema, indent=2, ensure_ascii=False).splitlines()),
            "    ```",
        ]
    return "\n".join(lines) + "\n"


# --- claims hooks -------------------------------------------------------------------------------
def hooks_table() -> str:
    """The roster (``claimflow.issuer.hooks.roster``) as a table: every stack claimflow answers."""
    from claimflow.issuer.hooks.roster import EVENT_HOOKS, HTTP_HOOKS

    lines = [
        "| identity stack | reached at | how it calls, and how it is authenticated | its published shape | sample event |",
        "|---|---|---|---|---|",
    ]
    for spec in (*EVENT_HOOKS, *HTTP_HOOKS.values()):
        where = f"`/hooks/{spec.route}`" if spec.route else "the issuer Lambda itself"
        docs = f"[{urlsplit(spec.docs).netloc}]({spec.docs})" if spec.docs.startswith("https://") else _cell(spec.docs)
        sample = f"`{spec.sample}`" if spec.sample else ""
        lines.append(f"| {_cell(spec.stack)} | {where} | {_cell(spec.summary)} | {docs} | {sample} |")
    return "\n".join(lines)


def generate(root: Path = ROOT) -> dict[str, dict[str, str]]:
    """Every generated page (by its path under docs/) and fragment (by name)."""
    from claimflow_local.cli import _parser

    return {
        "pages": {
            "reference/cli.md": cli_page(_parser(), makefile=root / "Makefile"),
            "reference/template-parameters.md": parameters_page(root / "template.yaml"),
            "reference/contracts.md": contracts_page(root / SCHEMAS),
        },
        "fragments": {"claims-hooks": hooks_table()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m claimflow_local.docs_reference")
    parser.add_argument("--root", type=Path, default=ROOT, help="the project (where template.yaml is)")
    args = parser.parse_args(argv)
    try:
        print(json.dumps(generate(args.root.resolve()), ensure_ascii=False))
    except DocsReferenceError as error:
        print(f"docs reference: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
