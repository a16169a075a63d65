"""Issue 25's Show: the author's loop, walked once as an author would (tests/functional/author_loop.py),
asserting what each step shows; ``bench/author_loop.py`` walks it five times and reports each
step's median time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.functional.author_loop import SUBSCRIBER, walk
from tests.support import record_figure


@pytest.mark.timeout(900)
def test_the_authors_loop_from_new_to_a_located_exception_in_preview(tmp_path: Path) -> None:
    times, seen = walk(tmp_path)
    for step, seconds in times.items():
        record_figure(f"author_loop_{step}_s", round(seconds, 3))

    new = seen["new"]
    assert new.returncode == 0, new.stderr
    assert "workflow addOrgPlan is function AddOrgPlanFunction" in new.stdout  # typed in functions/: the project was found

    # make dev ran the new workflow, whose route local/third_party.yaml declares: no key yet, so the route's 401
    first = seen["first_token"]
    assert first["claims"]["sub"] == SUBSCRIBER and first["claims"]["org_plan"] is None
    assert [w["id"] for w in first["workflows"]][-1] == "addOrgPlan"

    # the edit reached the next token, and make dev said what it reloaded and how long it took
    assert seen["edited_token"]["claims"]["org_plan_source"] == "billing"
    assert "→ AddOrgPlanFunction rebuilt and warm in" in seen["reload_line"]

    # env set --local wrote to the running stack (the next token reads it) and to the local store
    assert seen["env_set"].returncode == 0, seen["env_set"].stderr
    assert "in make dev's SSM and in local/state/env.json" in seen["env_set"].stdout
    assert seen["keyed_token"]["claims"]["org_plan"] == "team"

    # Ctrl-C: stopped without a traceback, its ports free at once; restarted, the value is still there
    assert "KeyboardInterrupt" not in seen["stop_errors"]
    assert "Traceback (most recent call last)" not in seen["stop_errors"].replace('"traceback":"Traceback', "")
    assert seen["ports_after_stop"] == []
    assert seen["restarted_token"]["claims"]["org_plan"] == "team"

    # an exception in the workflow: preview (against the running make dev) names the file and line
    where = f"functions/add_org_plan/app.py:{seen['failing_line']}"
    preview = seen["preview"]
    assert preview.returncode == 1
    assert f"KeyError: 'plans' at {where}" in preview.stdout, preview.stdout
    assert "no make dev runs" not in preview.stderr  # it used the running one
    refused = seen["refused_token"]
    assert refused["error"] == "server_error"
    assert any(w.get("error") == f"KeyError: 'plans' at {where}" for w in refused["workflows"])
    report = seen["dev_report"].split()  # make dev printed the failing workflow's report line
    assert [*report[:2], *report[4:]] == ["addOrgPlan", "failed", "policy=stop", "KeyError:", "'plans'", "at", where]
    assert "KeyboardInterrupt" not in seen.get("final_stop_errors", "")
