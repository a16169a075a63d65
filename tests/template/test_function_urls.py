"""Every public Function URL can be called once deployed: since October 2025 Lambda wants two
permissions for a URL with ``AuthType: NONE`` made after then, ``lambda:InvokeFunctionUrl``
(``FunctionUrlAuthType: NONE``) and ``lambda:InvokeFunction`` granted only through the URL
(``InvokedViaFunctionUrl: true``); without the second a new stack's URL answers 403."""

from __future__ import annotations

from typing import Any

from tests.template.test_template import sam


def _resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in sam()["Resources"].items() if r["Type"] == kind}


def test_every_public_function_url_has_both_permissions_its_calls_need() -> None:
    urls = {name: url for name, url in _resources("AWS::Lambda::Url").items() if url["Properties"]["AuthType"] == "NONE"}
    assert set(urls) == {"JwksFunctionUrl", "IssuerHooksUrl"}
    permissions = list(_resources("AWS::Lambda::Permission").values())
    for name, url in urls.items():
        target = url["Properties"]["TargetFunctionArn"]
        granted = [p for p in permissions if p["Properties"]["FunctionName"] == target and p.get("Condition") == url.get("Condition")]
        url_permission = [p["Properties"] for p in granted if p["Properties"]["Action"] == "lambda:InvokeFunctionUrl"]
        invoke_permission = [p["Properties"] for p in granted if p["Properties"]["Action"] == "lambda:InvokeFunction"]
        assert [p.get("FunctionUrlAuthType") for p in url_permission] == ["NONE"], name
        assert [(p["Principal"], p.get("InvokedViaFunctionUrl")) for p in invoke_permission] == [("*", True)], (
            f"{name}: add lambda:InvokeFunction for Principal '*' with InvokedViaFunctionUrl: true"
        )
