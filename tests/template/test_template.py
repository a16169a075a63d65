"""Invariants of template.yaml, checked on the CloudFormation that aws-sam-translator makes
of it: least-privilege IAM, the layer on every function, one function per functions/
folder, and the issuer's registry agreeing with each workflow's code."""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode.cfn_yaml import loads as cfn_yaml
from samtranslator.translator.transform import transform

from tests.support import FUNCTIONS, ROOT, load_workflow

STAGE_ENV = "parameter/claimflow/${Stage}/env"
#: The template under test: this project's, or (CLAIMFLOW_TEMPLATE) another, such as a copy of the
#: project after `claimflow new`, whose invariants tests/functional/test_author_tools.py checks.
TEMPLATE = Path(os.environ.get("CLAIMFLOW_TEMPLATE") or ROOT / "template.yaml")


class NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


@cache
def sam() -> dict[str, Any]:
    # cfn-lint's CloudFormation YAML reader: an oracle independent of claimflow's own template reader.
    document: dict[str, Any] = json.loads(json.dumps(cfn_yaml(TEMPLATE.read_text())))
    return document


@cache
def cloudformation() -> dict[str, Any]:
    """What CloudFormation receives: local code paths become S3 URIs, as `sam package` does."""
    packaged = json.loads(json.dumps(sam()))
    for resource in packaged["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = f"s3://claimflow-artifacts/{resource['Properties'][key].strip('/')}.zip"
    translated: dict[str, Any] = transform(packaged, {}, NoManagedPolicies())  # type: ignore[arg-type]
    return translated


def functions() -> dict[str, dict[str, Any]]:
    return {k: v for k, v in sam()["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def registry() -> list[dict[str, Any]]:
    raw = functions()["IssuerFunction"]["Properties"]["Environment"]["Variables"]["CLAIMFLOW_WORKFLOWS"]["Fn::Sub"]
    entries: list[dict[str, Any]] = json.loads(raw)
    return entries


def workflow_functions() -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every function the registry names."""
    named = {re.fullmatch(r"\$\{(\w+)\}(?::live)?", e["function"]).group(1) for e in registry()}  # type: ignore[union-attr]
    return {k: v for k, v in functions().items() if k in named}


def statements(logical_id: str) -> list[dict[str, Any]]:
    """Every statement the role can have: both branches of each ``Fn::If`` (a key store per stack)."""
    role = cloudformation()["Resources"][f"{logical_id}Role"]["Properties"]
    found: list[dict[str, Any]] = []
    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            branches = statement["Fn::If"][1:] if "Fn::If" in statement else [statement]
            found += [branch for branch in branches if branch != {"Ref": "AWS::NoValue"}]
    return found


def resources_for(logical_id: str, action: str) -> list[str]:
    result = []
    for statement in statements(logical_id):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if action in actions:
            targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            result += [json.dumps(t) for t in targets]
    return result


def test_the_template_translates() -> None:
    kinds = {r["Type"] for r in cloudformation()["Resources"].values()}
    assert {"AWS::Lambda::Function", "AWS::Lambda::LayerVersion", "AWS::Lambda::Url", "AWS::IAM::Role"} <= kinds


@pytest.mark.parametrize("logical_id", sorted(functions()))
def test_no_statement_grants_ssm_lambda_or_kms_on_every_resource(logical_id: str) -> None:
    for statement in statements(logical_id):
        if statement["Effect"] == "Deny":
            continue  # a deny on every resource grants nothing
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if any(a.split(":")[0] in {"ssm", "lambda", "kms"} for a in actions):
            # A key does not exist before CreateKey, so that grant names no resource: a tag
            # condition then ties it to this stage's keys.
            conditions = statement.get("Condition", {}).get("StringEquals", {})
            tagged = any(name.startswith(("aws:RequestTag/", "aws:ResourceTag/")) for name in conditions)
            assert "*" not in targets or tagged, statement
            assert not any(a.endswith(":*") or a == "*" for a in actions), statement


def test_each_workflow_reads_exactly_the_stage_path_and_its_own() -> None:
    for logical_id, resource in workflow_functions().items():
        module = load_workflow(resource["Properties"]["CodeUri"].strip("/").split("/")[-1])
        granted = resources_for(logical_id, "ssm:GetParametersByPath")
        if "kinde.env" not in module.workflow_settings.bindings:
            assert granted == [] and statements(logical_id) == [], f"{logical_id} binds no env yet reads SSM"
            continue
        own = f"parameter/claimflow/${{Stage}}/workflows/{module.workflow_settings.id}/env"
        assert len(granted) == 2
        assert any(STAGE_ENV in g for g in granted) and any(own in g for g in granted), granted


def test_the_issuer_invokes_only_its_registered_workflows_and_reads_only_the_keyset_and_hook_secrets() -> None:
    invoked = resources_for("IssuerFunction", "lambda:InvokeFunction")
    assert sorted(invoked) == sorted(json.dumps({"Ref": f"{k}Aliaslive"}) for k in workflow_functions())  # the live aliases
    assert [json.loads(r)["Fn::Sub"].split(":parameter/")[1] for r in resources_for("IssuerFunction", "ssm:GetParameter")] == [
        "claimflow/${Stage}/signing/keyset",
        "claimflow/${Stage}/hooks/*",  # each claims hook's shared secret (ClaimsHooks)
    ]


def test_the_jwks_function_reads_only_the_public_key_set() -> None:
    all_actions = [
        a for s in statements("JwksFunction") for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert all_actions == ["ssm:GetParameter"]
    [target] = resources_for("JwksFunction", "ssm:GetParameter")
    assert target.endswith('signing/jwks"}')


def test_every_function_has_the_claimflow_layer() -> None:
    layers = sam()["Globals"]["Function"]["Layers"]
    assert {"Ref": "ClaimflowLayer"} in layers
    for logical_id, resource in cloudformation()["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function":
            assert {"Ref": next(k for k in cloudformation()["Resources"] if k.startswith("ClaimflowLayer"))} in resource[
                "Properties"
            ]["Layers"], logical_id


def test_each_functions_folder_has_exactly_one_function_resource() -> None:
    code_uris = [r["Properties"]["CodeUri"].strip("/") for r in functions().values()]
    folders = sorted(f"functions/{p.name}" for p in FUNCTIONS.iterdir() if (p / "app.py").exists())
    assert sorted(code_uris) == folders


def test_the_registry_agrees_with_each_workflows_code() -> None:
    by_logical_id = workflow_functions()
    for entry in registry():
        logical_id = entry["function"].removesuffix(":live")[2:-1]
        module = load_workflow(by_logical_id[logical_id]["Properties"]["CodeUri"].strip("/").split("/")[-1])
        settings = module.workflow_settings
        assert entry["id"] == settings.id
        assert entry["trigger"] == settings.workflow_trigger.value
        assert entry.get("failure_policy", "stop") == settings.policy.value
    assert len({e["id"] for e in registry()}) == len(registry())


def test_the_layer_and_every_function_are_built_by_their_makefile_for_the_functions_runtime() -> None:
    layer = sam()["Resources"]["ClaimflowLayer"]
    runtime = sam()["Globals"]["Function"]["Runtime"]
    assert runtime in layer["Properties"]["CompatibleRuntimes"]
    # sam build takes a makefile build's Makefile from Metadata.ContextPath, else from the CodeUri.
    built = {"ClaimflowLayer": (layer, ROOT / "layers" / "claimflow")}
    built |= {
        name: (resource, ROOT / resource["Metadata"].get("ContextPath", resource["Properties"]["CodeUri"]))
        for name, resource in functions().items()
    }
    for name, (resource, code) in built.items():
        assert resource["Metadata"]["BuildMethod"] == "makefile", name
        makefile = (code / "Makefile").read_text()
        assert f"PYTHON ?= {runtime}\n" in makefile, name  # bytecode for the interpreter that runs it
        assert "--invalidation-mode unchecked-hash" in makefile, name


def test_every_function_is_built_by_the_one_shared_makefile() -> None:
    assert {name: f["Metadata"].get("ContextPath") for name, f in functions().items()} == dict.fromkeys(functions(), "functions/")
    assert sorted(FUNCTIONS.glob("*/Makefile")) == []  # none of its own to drift from the others


def test_outputs_name_every_function_arn_and_the_jwks_url() -> None:
    outputs = sam()["Outputs"]
    for logical_id in functions():
        assert f"{logical_id}Arn" in outputs, logical_id
    assert "JwksUrl" in outputs


def test_cognito_may_invoke_the_issuer_only_from_the_configured_user_pool() -> None:
    permission = sam()["Resources"]["CognitoInvokesIssuerPermission"]
    assert permission["Condition"] == "HasCognitoUserPool"
    assert permission["Properties"]["Principal"] == "cognito-idp.amazonaws.com"
    assert permission["Properties"]["SourceArn"] == {"Ref": "CognitoUserPoolArn"}
    assert permission["Properties"]["FunctionName"] == {"Ref": "IssuerFunction.Alias"}  # the live alias Cognito calls
