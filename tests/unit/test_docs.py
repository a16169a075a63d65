"""The README and the docs site say what is true: the README stays a short front page whose
links lead somewhere, the generated reference pages hold every parameter, command, contract
field and hook there is, and ``make bench`` rewrites only its own table.

(``make test`` also builds the site with ``mkdocs build --strict``: a broken link or anchor,
or a page left out of the nav, fails it.)"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest

from bench.__main__ import TABLE_END, TABLE_START, write_table
from claimflow.issuer.hooks.roster import EVENT_HOOKS, HTTP_HOOKS
from claimflow_local.cli import _parser
from claimflow_local.docs_reference import (
    SCHEMAS,
    DocsReferenceError,
    cli_page,
    contracts_page,
    generate,
    hooks_table,
    make_targets,
    parameters_page,
)
from claimflow_local.template import SamTemplate
from tests.support import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"


def test_the_readme_is_a_front_page_of_at_most_200_lines() -> None:
    assert len(README.read_text().splitlines()) <= 200


@pytest.mark.parametrize("page", [README, *sorted(DOCS.rglob("*.md"))], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_that_exists(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code blocks hold no links
    targets = [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+:|#", t)]
    missing = [t for t in targets if not (page.parent / t.split("#")[0]).exists() and not _generated(page, t)]
    assert missing == []


@cache
def _generated_pages() -> frozenset[str]:
    return frozenset(generate()["pages"])


def _generated(page: Path, target: str) -> bool:
    """A link to a reference page that exists only in the built site."""
    path = (page.parent / target.split("#")[0]).resolve()
    return path.is_relative_to(DOCS) and path.relative_to(DOCS).as_posix() in _generated_pages()


def test_the_readme_says_what_the_seed_is_where_it_first_names_it() -> None:
    text = README.read_text()
    first = text.lower().index("the seed")
    assert "Kinde" in text[first : first + 200] and "@kinde/infrastructure" in text[first : first + 300]


def test_every_template_parameter_is_on_its_reference_page_with_its_default() -> None:
    page = parameters_page(ROOT / "template.yaml")
    parameters = SamTemplate.load(ROOT / "template.yaml").document["Parameters"]
    for name, spec in parameters.items():
        row = next(line for line in page.splitlines() if line.startswith(f"| **{name}** |"))
        assert str(spec["Default"]) in row
    for output in SamTemplate.load(ROOT / "template.yaml").document["Outputs"]:
        assert f"| `{output}` |" in page


def test_a_parameter_without_a_description_fails_the_build_naming_it(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("Parameters:\n  Stage:\n    Type: String\n    Default: dev\n")
    with pytest.raises(DocsReferenceError, match="Stage have no Description"):
        parameters_page(template)


def test_every_command_and_make_target_is_on_the_command_line_page() -> None:
    page = cli_page(_parser(), makefile=ROOT / "Makefile")
    commands = re.search(r"\{([a-z,]+)\}", _parser().format_usage())
    assert commands is not None
    for command in commands[1].split(","):
        assert f"### `claimflow {command}`" in page
        assert f"usage: claimflow {command}" in page
    assert ("help", "this list") in make_targets(ROOT / "Makefile")
    for target, _ in make_targets(ROOT / "Makefile"):
        assert f"| `make {target}` |" in page


def test_every_top_level_contract_field_is_on_the_contracts_page() -> None:
    page = contracts_page(ROOT / SCHEMAS)
    for path in sorted((ROOT / SCHEMAS).glob("*.json")):
        schema = json.loads(path.read_text())
        assert f"## {schema['title']}" in page
        for shape in [schema, *schema.get("oneOf", [])]:
            for field in shape.get("properties", {}):
                assert f"| `{field}` |" in page


def test_every_hook_of_the_roster_is_in_the_hooks_table() -> None:
    table = hooks_table()
    for spec in EVENT_HOOKS:
        assert spec.stack in table
    for route, spec in HTTP_HOOKS.items():
        assert f"`/hooks/{route}`" in table and spec.stack in table


def test_the_identity_stacks_page_shows_the_generated_hooks_table() -> None:
    assert "<!-- generated:claims-hooks -->" in (DOCS / "identity-stacks" / "index.md").read_text()
    assert set(generate()["fragments"]) == {"claims-hooks"}


def test_bench_rewrites_only_the_table_between_its_markers(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    page.write_text(f"# Performance\n\nprose\n\n{TABLE_START}\n| old |\n{TABLE_END}\n\nmore prose\n")
    write_table(page, "| figure |\n|---|\n| new |")
    assert page.read_text() == f"# Performance\n\nprose\n\n{TABLE_START}\n| figure |\n|---|\n| new |\n{TABLE_END}\n\nmore prose\n"


def test_bench_refuses_a_page_that_lost_its_markers(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    page.write_text("# Performance\n")
    with pytest.raises(SystemExit, match="no <!-- bench:start -->"):
        write_table(page, "| figure |")


def test_the_performance_page_holds_the_bench_table() -> None:
    text = (DOCS / "performance.md").read_text()
    assert text.count(TABLE_START) == 1 and text.count(TABLE_END) == 1
