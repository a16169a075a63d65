"""MaxStaleSeconds does what its description says: it reaches the issuer, the JWKS function and
every workflow as the variable their parameter stores read, and ServingStaleAlarm watches the
metric those stores emit."""

from __future__ import annotations

import pytest

from claimflow.environment import Env
from claimflow.infra.ssm import SsmParameterStore
from claimflow_local.template import SamTemplate
from tests.support import ROOT


def test_max_stale_seconds_reaches_every_functions_parameter_store(monkeypatch: pytest.MonkeyPatch) -> None:
    template = SamTemplate.load(ROOT / "template.yaml", parameter_overrides={"MaxStaleSeconds": "120"})
    functions = template.functions()
    assert {"IssuerFunction", "JwksFunction", "AddThirdPartyDataUsingEnvsFunction"} <= set(functions)
    for name, function in functions.items():
        assert function.environment.get(Env.MAX_STALE_SECONDS) == "120", name
        monkeypatch.setenv(Env.MAX_STALE_SECONDS, function.environment[Env.MAX_STALE_SECONDS])
        assert SsmParameterStore(client=object()).max_stale == 120.0


def test_the_default_is_minutes_not_days() -> None:
    parameter = SamTemplate.load(ROOT / "template.yaml").document["Parameters"]["MaxStaleSeconds"]
    assert 60 <= int(parameter["Default"]) <= 900
    assert SsmParameterStore(client=object()).max_stale == float(parameter["Default"])


def test_the_serving_stale_alarm_watches_the_metric_the_parameter_stores_emit() -> None:
    alarm = SamTemplate.load(ROOT / "template.yaml").resources["ServingStaleAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("claimflow", "ServingStale")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "parameter-cache"}]
