"""The claims hooks are listed once, in ``claimflow.issuer.hooks.roster``, and what the template
advertises follows it: ``ClaimsHooks`` accepts exactly the rostered routes and documents each;
``claimflow check`` names a route the template drops; the issuer's URL answers exactly the
rostered hooks a stage enables."""

from __future__ import annotations

import copy
import re

from claimflow.environment import SsmPaths
from claimflow.infra.parameters import InMemoryParameterStore
from claimflow.infra.secrets import SecretRegistry
from claimflow.issuer.config import IssuerConfig
from claimflow.issuer.hooks.endpoint import HookEndpoint
from claimflow.issuer.hooks.replay import InMemoryReplayStore
from claimflow.issuer.hooks.roster import EVENT_HOOKS, HTTP_HOOKS, http_hooks
from claimflow.issuer.registry import WorkflowRegistry
from claimflow.issuer.service import WorkflowRunner
from claimflow.issuer.workflow_invoker import InProcessWorkflowInvoker
from claimflow_local.cli.check import _claims_hooks_parameter_problems, claims_hooks_pattern
from claimflow_local.template import SamTemplate
from tests.support import ROOT

CONFIG = IssuerConfig(issuer_url="https://issuer.example.com")


def test_the_template_accepts_and_documents_exactly_the_rostered_hooks() -> None:
    parameter = SamTemplate.load(ROOT / "template.yaml").document["Parameters"]["ClaimsHooks"]
    pattern = parameter["AllowedPattern"]
    assert pattern == claims_hooks_pattern()
    assert re.fullmatch(pattern, ",".join(HTTP_HOOKS))
    assert re.fullmatch(pattern, "")  # no hooks: no URL
    assert not re.fullmatch(pattern, "nosuchstack")
    assert all(route in parameter["Description"] for route in HTTP_HOOKS)


def test_check_names_a_rostered_hook_the_template_does_not_accept() -> None:
    template = SamTemplate.load(ROOT / "template.yaml")
    document = copy.deepcopy(dict(template.document))
    dropped = next(iter(HTTP_HOOKS))
    kept = "|".join(route for route in HTTP_HOOKS if route != dropped)
    document["Parameters"]["ClaimsHooks"]["AllowedPattern"] = f"^(({kept})(,({kept}))*)?$"
    document["Parameters"]["ClaimsHooks"]["Description"] = "only " + kept
    problems = _claims_hooks_parameter_problems(SamTemplate(path=template.path, document=document))
    assert any("AllowedPattern" in problem and dropped in problem for problem in problems), problems
    assert any("does not name" in problem and dropped in problem for problem in problems), problems


def test_every_rostered_hook_is_built_with_its_route_and_a_stack_name() -> None:
    built = http_hooks(CONFIG)
    assert list(built) == list(HTTP_HOOKS)
    for route, hook in built.items():
        assert hook.route == route
        assert hook.name and hook.budget_ms > 0 and hook.locked_claims
    assert all(spec.route is None and spec.hook(CONFIG).name for spec in EVENT_HOOKS)


def test_the_issuers_url_answers_exactly_the_rostered_hooks_the_stage_enables() -> None:
    enabled = [next(iter(HTTP_HOOKS))]
    endpoint = HookEndpoint(
        http_hooks(CONFIG, enabled=enabled),
        WorkflowRunner(WorkflowRegistry([]), InProcessWorkflowInvoker({})),
        InMemoryParameterStore(),
        replays=InMemoryReplayStore(),
        enabled=enabled,
        budget_ms=1000,
        paths=SsmPaths(stage="test"),
        secrets=SecretRegistry(),
    )
    assert list(endpoint.hooks) == enabled
