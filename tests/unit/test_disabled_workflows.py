"""A stage runs a subset of the registry (``DisabledWorkflows``) without the registry being
edited, and a typo in that list stops the issuer instead of leaving a workflow running; the
check's reading of which claims a workflow writes."""

from __future__ import annotations

import json

import pytest

from claimflow.errors import ConfigurationError
from claimflow.issuer.app import registry_from_environment
from claimflow.tokens import TokenKind
from claimflow.triggers import WorkflowTrigger
from claimflow_local.claims_written import claims_written

REGISTRY = json.dumps(
    [
        {"id": "first", "trigger": "user:tokens_generation", "function": "fn-first"},
        {"id": "second", "trigger": "user:tokens_generation", "function": "fn-second"},
        {"id": "machines", "trigger": "m2m:token_generation", "function": "fn-machines"},
    ]
)


def ids(disabled: str) -> list[str]:
    registry = registry_from_environment({"CLAIMFLOW_WORKFLOWS": REGISTRY, "CLAIMFLOW_DISABLED_WORKFLOWS": disabled})
    return [r.id for r in registry.for_trigger(WorkflowTrigger.UserTokenGeneration)]


@pytest.mark.parametrize(
    ("disabled", "running"),
    [("", ["first", "second"]), ("first", ["second"]), ("first, second", []), ("second,machines", ["first"])],
)
def test_disabled_workflows_do_not_run_and_the_rest_keep_their_order(disabled: str, running: list[str]) -> None:
    assert ids(disabled) == running


def test_an_id_the_registry_does_not_hold_stops_the_issuer_naming_it() -> None:
    with pytest.raises(ConfigurationError) as raised:
        ids("first,secnd")
    assert str(raised.value) == (
        "DisabledWorkflows names secnd, which the registry does not hold (registered: first, second, machines)"
    )


def test_claims_written_reads_both_spellings_and_every_way_of_setting() -> None:
    source = """
from claimflow import access_token_custom_claims, id_token_custom_claims
from claimflow.kinde import m2mTokenClaims
import claimflow

def workflow(event):
    access_token = access_token_custom_claims()
    access_token.plan = "pro"
    access_token["tier"] = 2
    access_token.setdefault("region", "eu")
    id_token_custom_claims().nickname = "n"
    claimflow.access_token_custom_claims()["direct"] = True
    m2m = m2mTokenClaims()
    m2m.org_code = "o"
    other = {}
    other["not_a_claim"] = 1
    access_token[compute()] = 3   # a computed name is not seen
    print(access_token.plan)      # a read is not a write
"""
    assert claims_written(source) == {
        TokenKind.ACCESS: {"plan", "tier", "region", "direct"},
        TokenKind.ID: {"nickname"},
        TokenKind.M2M: {"org_code"},
    }
