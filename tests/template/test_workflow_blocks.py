"""template.yaml's own workflows are the one per-workflow block (``claimflow_local.scaffold``,
which ``claimflow new`` renders and ``claimflow check`` holds workflows to), rendered for each:
resource by resource after YAML parsing, and its registry entry, invoke grant and Output."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfnlint.decode.cfn_yaml import loads as cfn_yaml

from claimflow_local.scaffold import WorkflowBlock, render_block
from tests.support import load_workflow
from tests.template.test_template import functions, registry, sam, workflow_functions


def rendered(logical_id: str) -> tuple[WorkflowBlock, dict[str, Any]]:
    """The block of the workflow that ``logical_id`` runs, and the block as cfn-lint parses it."""
    resource = functions()[logical_id]["Properties"]
    settings = load_workflow(resource["CodeUri"].strip("/").split("/")[-1]).workflow_settings
    block = render_block(
        workflow_id=settings.id,
        logical_id=logical_id,
        code_uri=resource["CodeUri"],
        trigger=settings.workflow_trigger.value,
        failure_policy=settings.policy.value,
        bindings=settings.bindings,
        description=resource["Description"],  # its own words; everything else is the block's
    )
    parsed: dict[str, Any] = json.loads(json.dumps(cfn_yaml(block.text)))
    return block, parsed


@pytest.mark.parametrize("logical_id", sorted(workflow_functions()))
def test_each_workflows_resources_are_its_block_rendered(logical_id: str) -> None:
    _, block = rendered(logical_id)
    own = {name: resource for name, resource in sam()["Resources"].items() if re.fullmatch(rf"{logical_id}\w*", name)}
    assert sorted(own) == sorted(block["Resources"])  # nothing more, nothing less
    for name, resource in block["Resources"].items():
        assert own[name] == resource, name


@pytest.mark.parametrize("logical_id", sorted(workflow_functions()))
def test_each_workflows_registry_entry_grant_and_output_are_its_blocks(logical_id: str) -> None:
    _, block = rendered(logical_id)
    [entry] = [e for e in registry() if e["function"] == f"${{{logical_id}}}:live"]
    assert entry == json.loads(block["Registry"])
    issuer = functions()["IssuerFunction"]["Properties"]["Policies"][0]["Statement"]
    grant = next(s for s in issuer if s.get("Sid") == "InvokeRegisteredWorkflows")["Resource"]
    assert [item for item in grant if item in block["InvokeRegisteredWorkflows"]] == block["InvokeRegisteredWorkflows"]
    assert {name: sam()["Outputs"].get(name) for name in block["Outputs"]} == block["Outputs"]
