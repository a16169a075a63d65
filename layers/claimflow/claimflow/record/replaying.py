"""A workflow run answered from a recording (``claimflow replay``; local mode only): every
fetch is served from its recorded answer and every environment variable from what the
recording says was read. Nothing reaches the network.

Recordings never hold a secret: a secret variable reads as the redaction mark ``••••``,
which is what the recording shows wherever the secret went (a header, a URL), so the
replayed requests match the recorded ones. A plain variable's value comes from the replay
tool (the recording holds names only). A fetch the recording has no answer for is a
``RecordingMissError`` naming it, noted in the capture so the replay reports it even if the
workflow catches the error.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from claimflow.environment import SsmPaths
from claimflow.infra.http_client import HttpRequest, HttpResponse
from claimflow.infra.parameters import Parameter, ParameterStore
from claimflow.infra.secrets import REDACTED, SecretRegistry
from claimflow.record.capture import Capture, decode_body
from claimflow.record.errors import RecordingMissError

if TYPE_CHECKING:
    from claimflow.runtime import WorkflowServices

__all__ = ["ReplayHttpClient", "ReplayParameterStore", "replay_services"]

#: The key a replayed secure_fetch encrypts with: its body is ciphertext under a fresh nonce
#: each time, so a replay matches secure fetches by method and URL alone.
_REPLAY_KEY = base64.b64encode(bytes(32)).decode()


class ReplayHttpClient:
    """Answers each request with the next unused recorded answer for the same method and URL."""

    def __init__(self, fetches: list[Mapping[str, Any]], capture: Capture, secrets: SecretRegistry) -> None:
        self._answers: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        for exchange in fetches:
            request = exchange["request"]
            self._answers.setdefault((str(request["method"]).upper(), str(request["url"])), []).append(exchange["response"])
        self._capture = capture
        self._secrets = secrets

    def send(self, request: HttpRequest) -> HttpResponse:
        url = self._secrets.redact(request.url)  # as the recording wrote it
        answers = self._answers.get((request.method, url))
        if not answers:
            recorded = sorted(f"{m} {u}" for (m, u), left in self._answers.items() if left) or ["none left"]
            self._capture.miss(f"fetch {request.method} {url}")
            raise RecordingMissError(
                url, f"the recording holds no answer for {request.method} {url} (it has: {'; '.join(recorded[:5])})"
            )
        answer = answers.pop(0)
        return HttpResponse(int(answer["status"]), dict(answer.get("headers") or {}), decode_body(answer))


class ReplayParameterStore(ParameterStore):
    """The variables the recording says the workflow read, at the workflow's own path; the
    secure-fetch key as a fixed stand-in. Never writes."""

    def __init__(self, env: Mapping[str, Mapping[str, Any] | None], *, paths: SsmPaths, workflow_id: str) -> None:
        super().__init__(max_age=0)
        own = paths.workflow_env(workflow_id)
        self._own = own
        self._secure_fetch_key = paths.secure_fetch_key(workflow_id)
        self._variables = {
            name: Parameter(f"{own}/{name}", REDACTED if secret else str(read.get("value", "")), secret)
            for name, read in env.items()
            if read is not None and read.get("set", True)
            for secret in [bool(read.get("secret"))]
        }

    def get_by_path(self, path: str, *, deadline: float | None = None) -> Mapping[str, Parameter]:
        return self._variables if path.rstrip("/") == self._own else {}

    def get(self, name: str, *, deadline: float | None = None, servable: Any = None) -> Parameter | None:
        return Parameter(name, _REPLAY_KEY, True) if name == self._secure_fetch_key else None

    def _get_by_path(self, path: str) -> dict[str, Parameter]:
        return dict(self.get_by_path(path))

    def _get(self, name: str) -> Parameter | None:
        return self.get(name)

    def put(self, name: str, value: str, *, secret: bool = False, description: str = "", key_id: str | None = None) -> None:
        raise RecordingMissError(name, "a replay writes no parameter")


def replay_services(
    services: WorkflowServices, replay: Mapping[str, Any], capture: Capture, *, workflow_id: str
) -> WorkflowServices:
    """``services`` with fetches and variables answered from ``replay`` (the invocation's
    ``replay`` field: the recorded ``fetches`` and ``env``). The redaction mark is registered
    as a secret, so a replayed request is written out as the recorded one was."""
    services.secrets.add(REDACTED)
    return replace(
        services,
        _http=ReplayHttpClient(list(replay.get("fetches", [])), capture, services.secrets),
        _parameters=ReplayParameterStore(replay.get("env", {}), paths=services.paths, workflow_id=workflow_id),
    )
