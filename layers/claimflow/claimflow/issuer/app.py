"""The issuer Lambda: composition root (once per container) and the one place that turns
errors into OAuth replies. ``functions/issuer/app.py`` re-exports ``lambda_handler``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from claimflow.environment import Env, SsmPaths, env_int, env_list, env_str
from claimflow.errors import ClaimflowError
from claimflow.infra.logs import logger_for
from claimflow.infra.tracing import spans_from_environment
from claimflow.issuer.config import config_from_environment, registry_from_environment
from claimflow.issuer.errors import WorkflowOutcomeError
from claimflow.issuer.hooks.base import customize
from claimflow.issuer.hooks.endpoint import HookEndpoint, is_http_event
from claimflow.issuer.hooks.roster import find_event_hook, http_hooks
from claimflow.issuer.lambda_workflow_invoker import LambdaWorkflowInvoker
from claimflow.issuer.service import IssuedTokens, TokenIssuer
from claimflow.keys.signer import KeyProvider
from claimflow.tokens import TOKENS
from claimflow.wire.contracts import TOKEN_REPLY, Outcome

if TYPE_CHECKING:
    from claimflow.infra.kms_api import KmsApi

__all__ = [
    "build_hook_endpoint",
    "build_issuer",
    "error_reply",
    "handle",
    "lambda_handler",
    "token_reply",
]

_log = logger_for("claimflow-issuer")
_warned_kids: set[str] = set()  # keys already reported as signing with another algorithm than configured


@cache
def _kms_client() -> KmsApi:
    """Made when a key kept in KMS first signs (SigningKeyStore=kms)."""
    from claimflow.infra.kms_api import KmsApi

    return KmsApi()


@cache
def build_issuer() -> TokenIssuer:
    """Wire the real adapters, once per container."""
    from claimflow.infra.ssm import SsmParameterStore
    from claimflow.keys.rotation import policy_from_environment
    from claimflow.record.sinks import recorder_from_environment

    config = config_from_environment()
    store = SsmParameterStore(max_age=env_int(Env.KEYSET_TTL_SECONDS, 300))
    # The rotation's own timings bound how long a key set SSM cannot re-read is signed with.
    keys = KeyProvider(
        store,
        SsmPaths().signing_keyset,
        kms=_kms_client,
        policy=policy_from_environment(),
        longest_token_seconds=max(config.lifetimes.values()),
    )
    return TokenIssuer(
        config=config,
        registry=registry_from_environment(),
        invoker=LambdaWorkflowInvoker(),
        keys=keys,
        spans=spans_from_environment("issuer"),
        recorder=recorder_from_environment(),
    )


def token_reply(issued: IssuedTokens) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "contract": TOKEN_REPLY,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
        "workflows": issued.report,
    }
    for kind, token in issued.tokens.items():
        reply[TOKENS[kind].reply_field] = token
    return reply


def _record_metrics(reply: Mapping[str, Any]) -> None:
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit, single_metric
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():  # POWERTOOLS_METRICS_DISABLED (local mode)
        return
    metrics = Metrics(namespace="claimflow", service="issuer")
    if "access_token" in reply:
        metrics.add_metric(name="TokensIssued", unit=MetricUnit.Count, value=1)
    elif reply.get("error") == "access_denied":
        metrics.add_metric(name="AccessDenied", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="IssuanceErrors", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
    for run in reply.get("workflows", []):
        with single_metric(
            name="WorkflowDuration", unit=MetricUnit.Milliseconds, value=run["duration_ms"], namespace="claimflow"
        ) as metric:
            metric.add_dimension(name="workflow", value=run["id"])
            metric.add_dimension(name="outcome", value=run["outcome"])
        if run.get("fetch_errors"):  # fetches that answered 4xx/5xx: a claim read from one may be wrong
            with single_metric(
                name="FetchErrorStatus", unit=MetricUnit.Count, value=len(run["fetch_errors"]), namespace="claimflow"
            ) as metric:
                metric.add_dimension(name="workflow", value=run["id"])


def oauth_text(text: str, *, limit: int = 512) -> str:
    r"""``text`` in the characters RFC 6749 §5.2 allows in ``error_description`` (printable ASCII
    but ``"`` and ``\``); others become ``?``."""
    return "".join(c if (" " <= c <= "~" and c not in '"\\') else "?" for c in text[:limit])


def error_reply(error: Exception) -> dict[str, Any]:
    """The OAuth error reply for any exception: by type, never by message text."""
    if not isinstance(error, ClaimflowError):
        _log.exception("issuer bug")
        return {"contract": TOKEN_REPLY, "error": "server_error", "error_description": "internal error in the issuer"}
    reply: dict[str, Any] = {
        "contract": TOKEN_REPLY,
        "error": error.error_code,
        "error_description": oauth_text(error.description),
    }
    if isinstance(error, WorkflowOutcomeError):
        reply["workflows"] = list(error.report)
    _log.warning(
        "token refused",
        extra={
            "error": error.error_code,
            "error_type": type(error).__name__,
            "detail": str(error),
            "workflows": reply.get("workflows"),
        },
    )
    return reply


def handle(issuer: TokenIssuer, event: Any) -> dict[str, Any]:
    """Issue, or answer an OAuth error; never a partial token, never an exception."""
    try:
        issued = issuer.issue(event)
    except Exception as error:  # every failure becomes a clean OAuth reply
        return error_reply(error)
    for conflict in issued.conflicts:
        _log.warning(
            "claim written by two workflows; the later wins",
            extra={"token": conflict.token.value, "claim": conflict.claim, "earlier": conflict.earlier, "later": conflict.later},
        )
    if issued.kid not in _warned_kids and issued.alg != issuer.config.signing_algorithm:
        _warned_kids.add(issued.kid)
        _log.warning(
            "the active signing key's algorithm is not the configured SigningAlgorithm",
            extra={
                "kid": issued.kid,
                "alg": issued.alg,
                "configured": issuer.config.signing_algorithm,
                "fix": f"rotate in a {issuer.config.signing_algorithm} key: ./claimflow keys rotate --alg "
                f"{issuer.config.signing_algorithm} (twice, a grace period apart)",
            },
        )
    for run in issued.report:
        if run["outcome"] == Outcome.FAILED:
            _log.warning("workflow failed; token issued without its patch (failure policy continue)", extra=run)
    _log.info("token issued", extra=issued_fields(issued))  # what claimflow explain --stage reads
    return token_reply(issued)


def issued_fields(issued: IssuedTokens) -> dict[str, Any]:
    """The issuer's log line of a token: each token's jti, and which workflow set each of its
    custom claims (the workflows' own lines, under the same correlation id, say the rest)."""
    from claimflow.record.provenance import writers

    return {
        "correlation_id": issued.correlation_id,
        "jti": {kind.value: claims.get("jti") for kind, claims in issued.claims.items()},
        "set_by": writers(issued.patches, {kind: issued.claims[kind] for kind in issued.claims}),
    }


@cache
def build_hook_endpoint() -> HookEndpoint:
    """The claims hooks the issuer's URL answers, sharing its workflows runner (once per container)."""
    from claimflow.infra.secrets import container_secrets
    from claimflow.infra.ssm import SsmParameterStore
    from claimflow.issuer.hooks.dynamodb_replays import DynamoDbReplayStore

    issuer = build_issuer()
    enabled = env_list(Env.CLAIMS_HOOKS)
    return HookEndpoint(
        http_hooks(issuer.config, enabled=enabled),
        issuer.workflows,
        SsmParameterStore(max_age=300),
        replays=DynamoDbReplayStore(table=env_str(Env.HOOK_REPLAY_TABLE, "")),  # shared by every container
        enabled=enabled,
        budget_ms=issuer.config.issuance_budget_ms,
        paths=SsmPaths(),
        secrets=container_secrets(),
    )


def lambda_handler(event: Mapping[str, Any], context: Any = None) -> Any:
    if is_http_event(event):  # the issuer's URL: claims hooks of stacks that sign their own tokens
        return build_hook_endpoint().handle(event)
    hook = find_event_hook(event)
    if hook is not None:
        # An identity stack that signs its own tokens asks for claims: same workflows, same rules.
        issuer = build_issuer()
        try:
            return customize(hook, issuer.workflows, event, budget_ms=issuer.config.issuance_budget_ms)
        except ClaimflowError as error:
            _log.warning(
                f"{hook.name} sign-in refused", extra={"error": error.error_code, "error_description": error.description}
            )
            raise
    if isinstance(event, Mapping) and event.get("correlation_id"):
        _log.set_correlation_id(str(event["correlation_id"]))
    try:
        issuer = build_issuer()
    except Exception as error:  # misconfiguration: server_error naming the setting to fix
        return error_reply(error)
    reply = handle(issuer, event)
    _record_metrics(reply)
    return reply
