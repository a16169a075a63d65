"""``claimflow check``'s reading of a workflow's source: where a fetch result's data is read
without its status being looked at (the seed's idiom, which turns a 401 or 500 into a claim)."""

from __future__ import annotations

import textwrap

import pytest

from claimflow_local.fetch_status import unchecked_data_reads
from tests.support import FUNCTIONS, ROOT

UNCHECKED = {
    "the seed's snake_case idiom": """
        def workflow(event):
            user_data = fetch(url, method="GET", response_format="json").data
        """,
    "the seed's camelCase idiom": """
        async def Workflow(event):
            userData = (await fetch(url, {"method": "GET", "responseFormat": "json"}))["data"]
        """,
    "a result kept, its data read": """
        def workflow(event):
            response = secure_fetch(url, body={"a": 1})
            claims.x = response.data["x"]
        """,
    "a status looked at in another function only": """
        def first(event):
            response = fetch(url)
            return response.data

        def second(event):
            response = fetch(url)
            return response.status
        """,
}
CHECKED = {
    "status compared": """
        def workflow(event):
            response = fetch(url)
            if response.status == 404:
                return
            claims.x = response.data["x"]
        """,
    "ok looked at": """
        async def Workflow(event):
            response = await fetch(url, {"method": "GET"})
            if not response["ok"]:
                raise RuntimeError("no")
            userData = response["data"]
        """,
    "raise_for_status called": """
        def workflow(event):
            claims.x = fetch(url).raise_for_status().data["x"]
        """,
    "raise_for_status keyword": """
        def workflow(event):
            claims.x = fetch(url, raise_for_status=True).data["x"]
        """,
    "raiseForStatus option": """
        async def Workflow(event):
            userData = (await fetch(url, {"method": "GET", "raiseForStatus": True}))["data"]
        """,
    "data of something else": """
        def workflow(event):
            variable = get_environment_variable("K")
            return event.data, variable.data
        """,
}


@pytest.mark.parametrize("source", UNCHECKED.values(), ids=list(UNCHECKED))
def test_a_data_read_without_a_status_look_is_found_with_its_line(source: str) -> None:
    text = textwrap.dedent(source)
    lines = unchecked_data_reads(text)
    assert len(lines) == 1
    assert ".data" in text.splitlines()[lines[0] - 1] or '["data"]' in text.splitlines()[lines[0] - 1]


@pytest.mark.parametrize("source", CHECKED.values(), ids=list(CHECKED))
def test_a_read_whose_status_is_looked_at_is_not_reported(source: str) -> None:
    assert unchecked_data_reads(textwrap.dedent(source)) == []


def test_the_shipped_workflows_and_the_tutorial_in_the_seeds_spelling_look_at_the_status() -> None:
    sources = [*FUNCTIONS.glob("*/app.py"), *(ROOT / "examples" / "tutorial_camel_case").glob("*.py")]
    assert len(sources) >= 5
    assert {path.name if path.name != "app.py" else path.parent.name: unchecked_data_reads(path) for path in sources} == {
        path.name if path.name != "app.py" else path.parent.name: [] for path in sources
    }
