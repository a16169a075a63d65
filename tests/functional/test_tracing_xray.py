"""With the real X-Ray SDK (Powertools' Tracer), the issuer's spans are subsegments of the
request's segment, opened on the right threads. Functional tier: the SDK opens a UDP socket to
its daemon on loopback when imported."""

from __future__ import annotations

import pytest

from tests.unit.issuing import issuer_with, patching, user_request


class CapturingEmitter:
    """Stands in for the X-Ray daemon (not our code): keeps what the SDK would send it."""

    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []

    def send_entity(self, entity: object) -> None:
        import json

        self.sent.append(json.loads(entity.serialize()))  # type: ignore[attr-defined]

    def set_daemon_address(self, address: object) -> None:
        pass

    @property
    def ip(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return 2000


def test_in_lambda_the_spans_are_subsegments_of_the_invocations_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.core.lambda_launcher import LambdaContext

    from claimflow.infra.tracing import spans_from_environment

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "claimflow-test-issuer")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv("CLAIMFLOW_TRACING", "Active")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    emitter = CapturingEmitter()
    xray_recorder.configure(context=LambdaContext(), emitter=emitter, streaming_threshold=1)
    spans = spans_from_environment("issuer")
    issuer = issuer_with([("first", patching("first", {"a": 1}), "stop")])
    issuer.spans = spans
    issuer.workflows.spans = spans
    issuer.issue(user_request())
    sent = {entity["name"]: entity for entity in emitter.sent}
    assert {"workflow first", "sign"} <= set(sent)
    assert sent["workflow first"]["annotations"] == {"workflow": "first"}
    assert sent["workflow first"]["trace_id"] == sent["sign"]["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert sent["workflow first"]["parent_id"] == "53995c3f42cd8ad8"  # the invocation's facade segment, across the thread
