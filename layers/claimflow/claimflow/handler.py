"""Turns a workflow function into a Lambda handler speaking the invocation contract v1.

This is the workflow side's composition root (services are built once per container, on
the first invocation) and the one place where errors become replies: a workflow's
exception, a denial or a bad request each become a well-formed reply; nothing escapes.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Coroutine, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from claimflow.claims import CustomClaims, Reserved
from claimflow.environment import Env, SsmPaths, env_flag, env_float, env_int, env_list, env_str
from claimflow.errors import ClaimflowError, ClaimValueError, ContractError, InvalidSettingsError
from claimflow.events import EventView
from claimflow.infra.logs import logger_for
from claimflow.infra.secrets import container_secrets
from claimflow.record.capture import Capture, RecordedClaims, function_version
from claimflow.runtime import Invocation, WorkflowServices, activated
from claimflow.settings import WorkflowSettings
from claimflow.wire.contracts import WORKFLOW_INVOCATION, Outcome, event_shape, validate

__all__ = ["WorkflowFunction", "clear_caches", "create_handler", "default_services"]

WorkflowFunction = Callable[[EventView], Any]
LambdaHandler = Callable[[Mapping[str, Any], Any], dict[str, Any]]
_DEFAULT_DEADLINE_MS = 10_000
_SAFETY_MARGIN_MS = 250  # leave time to build and return the reply before Lambda's own timeout


@cache
def default_services() -> WorkflowServices:
    """The container's services, from its environment; made on the first invocation."""
    local_mode = env_flag(Env.LOCAL_MODE)
    return WorkflowServices(
        local_mode=local_mode,
        local_allowed_hosts=env_list(Env.LOCAL_ALLOWED_HOSTS) if local_mode else (),
        paths=SsmPaths(),
        secrets=container_secrets(),
        fetch_timeout=env_float(Env.FETCH_TIMEOUT_SECONDS, 5.0),
        fetch_max_bytes=env_int(Env.FETCH_MAX_BYTES, 1 << 20),
        env_max_age=env_float(Env.ENV_TTL_SECONDS, 60.0),
    )


def clear_caches() -> None:
    """Forget the container's services, cached parameters and known secrets (tests call this
    between cases, as a new container would start)."""
    if default_services.cache_info().currsize:
        services = default_services()
        if services._parameters is not None:
            services._parameters.clear_cache()
    default_services.cache_clear()
    container_secrets.cache_clear()


def _deadline_ms(request: Mapping[str, Any], context: Any) -> float:
    limits = [float(request.get("deadline_ms", _DEFAULT_DEADLINE_MS))]
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        limits.append(float(remaining()) - _SAFETY_MARGIN_MS)
    return max(0.0, min(limits))


def _holds_a_secret(patches: Mapping[str, Any], services: WorkflowServices) -> bool:
    if not services.secrets:  # no secret read in this container: nothing a claim could hold
        return False
    text = json.dumps(patches, ensure_ascii=False)
    return services.secrets.redact(text) != text


def _error_body(error: BaseException, services: WorkflowServices, *, location: str | None = None) -> dict[str, str]:
    code = error.error_code if isinstance(error, ClaimflowError) else "server_error"
    message = services.secrets.redact(str(error) or type(error).__name__)
    hint = _hint(error, location)
    body = {"type": type(error).__name__, "code": code, "message": (message + hint)[:4096]}
    if location is not None:
        body["location"] = location[:512]
    return body


def _task_root(function: WorkflowFunction) -> Path | None:
    """Where the workflow's own code is: Lambda's task root, or (the testing kit, in process)
    the folder of the module that defines the workflow function."""
    root = os.environ.get("LAMBDA_TASK_ROOT")
    if root:
        return Path(root).resolve()
    code = getattr(function, "__code__", None)
    return Path(code.co_filename).resolve().parent if code is not None else None


def _location(error: BaseException, function: WorkflowFunction) -> str | None:
    """``file:line`` of the innermost frame of the workflow's own code in the error's traceback
    (where its code raised, or called what raised), relative to its task root; locally prefixed
    with where that code lives in the project (``functions/<name>/app.py:23``)."""
    root = _task_root(function)
    if root is None:
        return None
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(root):
            relative = path.relative_to(root).as_posix()
            source = env_str(Env.SOURCE_DIR, "").rstrip("/")
            return f"{source}/{relative}:{frame.lineno}" if source else f"{relative}:{frame.lineno}"
    return None


def _hint(error: BaseException, location: str | None) -> str:
    """One thing Python does that TypeScript does not, said where it bites: awaiting None."""
    if isinstance(error, TypeError) and "NoneType can't be used in 'await' expression" in str(error):
        return (
            " (a claimflow function that answers None, such as get_environment_variable for a variable that is not set, "
            "cannot be awaited in Python: call it without await)"
        )
    return ""


def _redacted_traceback(error: BaseException, services: WorkflowServices) -> str:
    return services.secrets.redact("".join(traceback.format_exception(error)))[-8192:]


def _code_dir(function: WorkflowFunction) -> str | None:
    """The workflow's code directory (its task root in Lambda), whose content names its version."""
    path = getattr(getattr(function, "__code__", None), "co_filename", None) or getattr(
        sys.modules.get(getattr(function, "__module__", "")), "__file__", None
    )
    return os.path.dirname(path) if path else None


def _fetch_errors(invocation: Invocation | None) -> dict[str, Any]:
    """The reply's ``fetch_errors`` (fetches that answered an error status), URLs redacted."""
    if invocation is None or not invocation.fetch_errors:
        return {}
    redact = invocation.services.secrets.redact
    return {"fetch_errors": [{"url": redact(e["url"])[:1024], "status": e["status"]} for e in invocation.fetch_errors]}


def create_handler(
    settings: WorkflowSettings,
    function: WorkflowFunction,
    *,
    services: WorkflowServices | None = None,
) -> LambdaHandler:
    """Return ``lambda_handler(event, context)`` running ``function`` under ``settings``."""
    if not isinstance(settings, WorkflowSettings):
        raise InvalidSettingsError("create_handler needs the module's WorkflowSettings as its first argument")
    if not callable(function):
        raise InvalidSettingsError("create_handler needs the workflow function as its second argument")

    def reply(
        outcome: Outcome,
        started: float,
        *,
        patches: dict[str, Any] | None = None,
        reason: str | None = None,
        error: dict[str, str] | None = None,
        invocation: Invocation | None = None,
    ) -> dict[str, Any]:
        return {
            "contract": WORKFLOW_INVOCATION,
            "workflow_id": settings.id,
            "outcome": outcome.value,
            "failure_policy": settings.policy.value,
            "patches": patches or {},
            "reason": reason,
            "error": error,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            **_fetch_errors(invocation),
        }

    def lambda_handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        started = time.perf_counter()
        svc = services or default_services()
        log = logger_for(settings.id)
        try:
            request = validate("workflow-invocation-request.v1", event)
            if request["workflow_id"] != settings.id or request["trigger"] != settings.workflow_trigger.value:
                raise ContractError(
                    f"this Lambda runs workflow '{settings.id}' on '{settings.workflow_trigger.value}', "
                    f"but was invoked as '{request['workflow_id']}' on '{request['trigger']}': fix the issuer's registry"
                )
            if "replay" in request and not svc.local_mode:
                raise ContractError("a replay (recorded answers, not the network) runs only in local mode: claimflow replay")
        except ContractError as error:
            log.error("invocation refused", extra={"error": str(error)})
            return reply(Outcome.FAILED, started, error=_error_body(error, svc))

        log.append_keys(workflow_id=settings.id, trigger=settings.workflow_trigger.value)
        log.set_correlation_id(request.get("correlation_id"))
        reserved = Reserved.from_wire(request.get("reserved"))
        # What the run fetched, for its log line; everything it saw and did when the issuer records it.
        replay = request.get("replay")
        expected_env = frozenset(replay["env"]) if replay is not None else None
        capture = Capture(full=bool(request.get("record")) or replay is not None, expected_env=expected_env)
        if replay is not None:
            from claimflow.record.replaying import replay_services

            svc = replay_services(svc, replay, capture, workflow_id=settings.id)
        claims = {
            kind: RecordedClaims(kind, current, reserved=reserved, capture=capture)
            if capture.full
            else CustomClaims(kind, current, reserved=reserved)
            for kind in settings.token_kinds()
            for current in [{} if settings.resets(kind) else request["tokens"].get(kind.value)]
        }
        invocation = Invocation(
            settings=settings,
            event=EventView(request["event"], shape=event_shape(settings.workflow_trigger.value)),
            claims=claims,
            services=svc,
            deadline=time.monotonic() + _deadline_ms(request, context) / 1000,
            capture=capture,
        )

        def recorded(answer: dict[str, Any]) -> dict[str, Any]:
            if capture.full:  # asked for: the reply carries what the run saw and did, redacted
                answer["recording"] = capture.document(svc.secrets, code_dir=_code_dir(function))
            return answer

        try:
            with activated(invocation):
                result = function(invocation.event)
                if isinstance(result, Coroutine):  # an async workflow, as the seed's are
                    import asyncio  # 30 ms of import (ssl included) that sync workflows never pay

                    asyncio.run(result)
        except Exception as error:  # the workflow's failure is data for the issuer's policy
            body = _error_body(error, svc, location=_location(error, function))
            log.error(
                "workflow failed",
                extra={
                    "error_type": body["type"],
                    "error": body["message"],
                    "error_location": body.get("location"),
                    "traceback": _redacted_traceback(error, svc),
                },
            )
            return recorded(reply(Outcome.FAILED, started, error=body, invocation=invocation))

        if invocation.denial is not None:
            log.info("workflow denied access", extra={"reason": invocation.denial})
            return recorded(reply(Outcome.DENIED, started, reason=svc.secrets.redact(invocation.denial), invocation=invocation))
        patches: dict[str, dict[str, Any]] = {
            kind.value: {"set": mapping.patch, "reset": settings.resets(kind)} for kind, mapping in claims.items()
        }
        if _holds_a_secret(patches, svc):
            leak = ClaimValueError("a claim holds the value of a secret variable; tokens are readable by whoever holds them")
            log.error("workflow failed", extra={"error_type": type(leak).__name__, "error": str(leak)})
            return recorded(reply(Outcome.FAILED, started, error=_error_body(leak, svc), invocation=invocation))
        done = reply(Outcome.OK, started, patches=patches, invocation=invocation)
        log.info(
            "workflow finished",
            extra={
                "outcome": Outcome.OK.value,
                "duration_ms": done["duration_ms"],
                "claims_set": sorted(n for p in patches.values() for n in p["set"]),
                "function_version": function_version(),
                "fetches": capture.log_fields(),  # with correlation_id: what claimflow explain reads for a stage
            },
        )
        return recorded(done)

    lambda_handler.__wrapped__ = function  # type: ignore[attr-defined]
    lambda_handler.workflow_settings = settings  # type: ignore[attr-defined]
    return lambda_handler
