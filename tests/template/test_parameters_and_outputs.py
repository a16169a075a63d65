"""What the template advertises is true: the IssuerUrl output equals the ``iss`` the issuer
signs, exactly (no trailing slash), however the issuer's URL is configured; every parameter
changes what deploys; and every variable the template sets is one the code reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from claimflow.environment import Env
from claimflow.issuer.config import config_from_environment
from claimflow_local.template import SamTemplate
from tests.support import ROOT

FUNCTION_URL = "https://abcdefghijklmnop.lambda-url.eu-west-1.on.aws/"  # as Lambda reports it: with a slash


def resolved(**overrides: str) -> SamTemplate:
    template = SamTemplate.load(ROOT / "template.yaml", parameter_overrides=overrides)
    template.function_urls["JwksFunction"] = FUNCTION_URL
    return template


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "https://abcdefghijklmnop.lambda-url.eu-west-1.on.aws"),
        ({"IssuerUrl": "https://id.example.com/tenant-1"}, "https://id.example.com/tenant-1"),
        (
            {"IssuerDomainName": "auth.example.com", "IssuerCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x"},
            "https://auth.example.com",
        ),
    ],
)
def test_the_issuer_url_output_is_exactly_the_iss_the_issuer_signs(overrides: dict[str, str], expected: str) -> None:
    template = resolved(**overrides)
    iss = config_from_environment(template.functions()["IssuerFunction"].environment).issuer_url
    outputs = template.outputs()
    assert outputs["IssuerUrl"] == iss == expected
    assert outputs["JwksUrl"] == f"{expected}/.well-known/jwks.json"


def test_an_issuer_url_with_a_trailing_slash_is_refused_by_the_parameter_itself() -> None:
    pattern = SamTemplate.load(ROOT / "template.yaml").document["Parameters"]["IssuerUrl"]["AllowedPattern"]
    assert re.fullmatch(pattern, "https://id.example.com/tenant-1")
    assert re.fullmatch(pattern, "")
    assert not re.fullmatch(pattern, "https://id.example.com/")


def test_a_custom_domain_puts_cloudfront_in_front_of_the_jwks_function_and_outputs_its_domain() -> None:
    template = resolved(
        IssuerDomainName="auth.example.com", IssuerCertificateArn="arn:aws:acm:us-east-1:123456789012:certificate/x"
    )
    distribution = template.resources["IssuerDistribution"]
    assert distribution["Condition"] == "HasIssuerDomain"
    config = template.resolve(distribution["Properties"]["DistributionConfig"])
    assert config["Aliases"] == ["auth.example.com"]
    assert config["Origins"][0]["DomainName"] == "abcdefghijklmnop.lambda-url.eu-west-1.on.aws"
    assert config["ViewerCertificate"]["AcmCertificateArn"].endswith(":certificate/x")
    assert "IssuerDistributionDomain" in SamTemplate.load(ROOT / "template.yaml").document["Outputs"]
    assert template.functions()["JwksFunction"].environment["CLAIMFLOW_ISSUER_URL"] == "https://auth.example.com"


# --- every parameter has an effect -------------------------------------------------------------

CHANGED = {
    "Stage": "qa",
    "IssuerUrl": "https://id.example.com",
    "IssuerDomainName": "auth.example.com",
    "IssuerCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/changed",
    "AccessTokenTtlSeconds": "900",
    "IdTokenTtlSeconds": "901",
    "M2MTokenTtlSeconds": "902",
    "SigningAlgorithm": "ES256",
    "AllowedAudiences": "https://api.example.com/v1",
    "IssuanceBudgetMs": "1500",
    "ThirdPartyApiUrl": "https://billing.example.com",
    "EnvCacheSeconds": "30",
    "MaxStaleSeconds": "60",
    "CognitoUserPoolArn": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_X",
    "TracingMode": "Active",
    "AuthorizationEndpoint": "https://login.example.com/authorize",
    "TokenEndpoint": "https://login.example.com/token",
    "UserinfoEndpoint": "https://login.example.com/userinfo",
    "EndSessionEndpoint": "https://login.example.com/logout",
    "RevocationEndpoint": "https://login.example.com/revoke",
    "GrantTypesSupported": "client_credentials",
    "ScopesSupported": "read:reports",
    "TokenEndpointAuthMethods": "client_secret_post",
    "DisabledWorkflows": "addThirdPartyDataToAccessToken",
    "ExampleWorkflows": "enabled",
    "SigningKeyStore": "kms",
    "KeyRotationPeriodDays": "7",
    "DeploymentStrategy": "Canary10Percent5Minutes",
    "LogRetentionDays": "90",
    "Architecture": "arm64",
    "IssuerProvisionedConcurrency": "2",
    "IssuerSnapStart": "true",
    "AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:claimflow-alerts",
    "WorkflowP99AlarmMs": "900",
    "ClaimsHooks": "generic,hydra",
    "RecordSampleRate": "0.05",
    "RecordingRetentionDays": "30",
}
#: A parameter whose effect shows only beside another one.
TOGETHER = {
    "IssuerCertificateArn": {"IssuerDomainName": "auth.example.com"},
    "RecordingRetentionDays": {"RecordSampleRate": "0.05"},
}


def deployed(template: SamTemplate) -> Any:
    """What the parameters decide: every resource whose condition holds, resolved."""
    resources = {
        name: template.resolve(resource.get("Properties", {}))
        for name, resource in template.resources.items()
        if "Condition" not in resource or template._condition(resource["Condition"])
    }
    functions = {name: dict(spec.environment) for name, spec in template.functions().items()}
    return resources, template.resolve(template.document["Globals"]), functions, template.outputs()


def test_every_parameter_is_listed_here() -> None:
    assert set(SamTemplate.load(ROOT / "template.yaml").document["Parameters"]) == set(CHANGED)


@pytest.mark.parametrize("parameter", sorted(CHANGED))
def test_every_parameter_changes_what_deploys(parameter: str) -> None:
    base = {**TOGETHER.get(parameter, {})}
    if parameter == "IssuerDomainName":
        base["IssuerCertificateArn"] = CHANGED["IssuerCertificateArn"]
    before = deployed(resolved(**base))
    after = deployed(resolved(**{**base, parameter: CHANGED[parameter]}))
    assert before != after, f"{parameter} changes nothing"


def test_every_variable_the_template_sets_is_read_by_the_code() -> None:
    template = SamTemplate.load(ROOT / "template.yaml")
    names = set(template.document["Globals"]["Function"]["Environment"]["Variables"])
    for resource in template.function_resources().values():
        names |= set(resource["Properties"].get("Environment", {}).get("Variables", {}))
    layer = ROOT / "layers" / "claimflow" / "claimflow"
    code = "\n".join(p.read_text() for p in layer.rglob("*.py"))
    functions = "\n".join(p.read_text() for p in (ROOT / "functions").rglob("*.py"))
    constants = {value: name for name, value in vars(Env).items() if isinstance(value, str) and value.startswith("CLAIMFLOW_")}
    for name in sorted(names):
        if name.startswith("CLAIMFLOW_"):
            assert name in constants, f"{name} is not in claimflow.environment.Env"
            assert f"Env.{constants[name]}" in code, f"{name} is set by the template and read by nothing"
        elif name.startswith("POWERTOOLS_"):
            continue  # read by Powertools itself
        else:
            assert f"'{name}'" in functions or f'"{name}"' in functions, f"{name} is set by the template and read by nothing"


def test_the_local_template_reader_and_cfn_lint_agree_on_the_parameters() -> None:
    from cfnlint.decode.cfn_yaml import loads

    independent = loads(Path(ROOT / "template.yaml").read_text())
    assert set(independent["Parameters"]) == set(CHANGED)


def test_the_console_shows_every_parameter_once_in_a_group_and_each_says_what_it_does() -> None:
    document = SamTemplate.load(ROOT / "template.yaml").document
    groups = document["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(document["Parameters"])  # each once: none left in "Other parameters"
    assert groups[0]["Parameters"][0] == "Stage"
    assert [name for name, spec in document["Parameters"].items() if not spec.get("Description")] == []
