"""The scheduled key rotation function (EventBridge Scheduler, hourly): each run does what is
due and nothing else (``KeyManager.advance``), so it is idempotent and safe to run again after
any failure. The first run on a new stage creates the key set.

One cycle per ``KeyRotationPeriodDays``: a next key is published in the JWKS; after the grace
period (longer than resource servers and API Gateway cache the JWKS) it signs, the old one
turning previous; after the longest token lifetime it leaves the JWKS, and a KMS key is
scheduled for deletion. ``claimflow keys status`` shows when each key moves next.
"""

from __future__ import annotations

import time
from typing import Any

from claimflow.environment import Env, SsmPaths, env_int, env_str
from claimflow.infra.logs import logger_for
from claimflow.keys.manager import CLOCK_SKEW_SECONDS, KeyManager, KeySource, LocalKeys, RotationPolicy
from claimflow.tokens import TOKENS

__all__ = ["key_manager_from_environment", "lambda_handler", "policy_from_environment"]

_log = logger_for("claimflow-key-rotation")


def key_source(name: str, *, stage: str) -> KeySource:
    if name == "kms":
        from claimflow.infra.kms_api import KmsApi
        from claimflow.keys.kms_keys import KmsKeys

        return KmsKeys(KmsApi(), stage=stage)
    if name != "ssm":
        from claimflow.errors import ConfigurationError

        raise ConfigurationError(f"{Env.SIGNING_KEY_STORE}={name!r}: use 'ssm' or 'kms'")
    return LocalKeys()


def key_manager_from_environment() -> KeyManager:
    from claimflow.infra.ssm import SsmParameterStore

    paths = SsmPaths()
    return KeyManager(
        SsmParameterStore(max_age=0),
        paths,
        keys=key_source(env_str(Env.SIGNING_KEY_STORE, "ssm"), stage=paths.stage),
        keyset_key_id=env_str(Env.KEYSET_KMS_KEY, "") or None,
    )


def policy_from_environment() -> RotationPolicy:
    longest = max(env_int(spec.lifetime_setting, 3600) for spec in TOKENS.values())
    return RotationPolicy(
        period_seconds=env_int(Env.KEY_ROTATION_PERIOD_DAYS, 30) * 86400,
        retire_after_seconds=longest + CLOCK_SKEW_SECONDS,
    )


def lambda_handler(event: Any = None, context: Any = None) -> dict[str, Any]:
    manager = key_manager_from_environment()
    now = int(time.time())
    try:
        if manager.load() is None:
            keyset = manager.init(alg=env_str(Env.SIGNING_ALGORITHM, "RS256"), now=now)
            actions = [f"created the key set with {keyset.active.kid}"]
        else:
            keyset, actions = manager.advance(now=now, policy=policy_from_environment())
    except Exception:
        _record(failed=True, actions=[], keys=0)
        _log.exception("key rotation failed; the next run retries what is still due")
        raise
    _record(failed=False, actions=actions, keys=len(keyset.keys))
    _log.info("key rotation ran", extra={"actions": actions, "keys": {k.kid: k.status for k in keyset.keys}})
    return {"actions": actions, "keys": {k.kid: k.status for k in keyset.keys}}


def _record(*, failed: bool, actions: list[str], keys: int) -> None:
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():
        return
    metrics = Metrics(namespace="claimflow", service="key-rotation")
    if failed:
        metrics.add_metric(name="KeyRotationFailures", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="KeyRotationSteps", unit=MetricUnit.Count, value=len(actions))
        metrics.add_metric(name="SigningKeys", unit=MetricUnit.Count, value=keys)
    metrics.flush_metrics()
