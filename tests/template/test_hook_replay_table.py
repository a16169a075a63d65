"""The table of used hook signatures, as template.yaml declares it and CloudFormation receives
it: keyed and expired as the code writes it, there exactly when claims hooks are, and the only
DynamoDB grant anywhere is the issuer's conditional put of its two attributes on that table."""

from __future__ import annotations

import json
from typing import Any

from claimflow.issuer.hooks import dynamodb_replays
from tests.template.test_template import cloudformation, functions, sam, statements


def table() -> dict[str, Any]:
    resource: dict[str, Any] = sam()["Resources"]["HookReplayTable"]
    return resource


def test_the_table_is_keyed_and_expired_as_the_replay_store_writes_it() -> None:
    properties = table()["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": dynamodb_replays.KEY, "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": dynamodb_replays.KEY, "AttributeType": "S"}]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": dynamodb_replays.EXPIRES, "Enabled": True}
    assert properties["BillingMode"] == "PAY_PER_REQUEST"  # a login burst is never throttled by a provisioned limit


def test_the_table_exists_with_the_claims_hooks_and_the_issuer_is_told_its_name() -> None:
    assert table()["Condition"] == "HasClaimsHooks"
    variables = functions()["IssuerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["CLAIMFLOW_HOOK_REPLAY_TABLE"] == {"Fn::If": ["HasClaimsHooks", {"Ref": "HookReplayTable"}, ""]}


def test_the_issuer_may_only_put_the_two_attributes_on_that_table_and_no_one_else_touches_dynamodb() -> None:
    grants = [
        (logical_id, statement)
        for logical_id in functions()
        for statement in statements(logical_id)
        if any(str(action).startswith("dynamodb:") for action in _listed(statement["Action"]))
    ]
    assert [logical_id for logical_id, _ in grants] == ["IssuerFunction"]
    [(_, statement)] = grants
    assert statement["Action"] == "dynamodb:PutItem"
    assert statement["Resource"] == {"Fn::GetAtt": ["HookReplayTable", "Arn"]}
    assert statement["Condition"]["ForAllValues:StringEquals"] == {
        "dynamodb:Attributes": [dynamodb_replays.KEY, dynamodb_replays.EXPIRES]
    }
    assert statement["Condition"]["StringEqualsIfExists"] == {"dynamodb:ReturnValues": "NONE"}  # reads nothing back
    roles = [r for r in cloudformation()["Resources"].values() if r["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}]
    assert all("dynamodb" not in json.dumps(r) for r in roles)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
