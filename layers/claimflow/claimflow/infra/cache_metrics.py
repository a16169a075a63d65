"""The parameter cache's metric: each value served stale because the parameter store is failing
is one ``ServingStale`` (EMF, namespace ``claimflow``, dimension ``service=parameter-cache``),
what the template's ``ServingStaleAlarm`` watches. Powertools Metrics writes it, as the issuer's
own metrics; local mode turns it off (``POWERTOOLS_METRICS_DISABLED``)."""

from __future__ import annotations

__all__ = ["record_serving_stale"]


def record_serving_stale(name: str, stale_seconds: float) -> None:
    """One stale serve of parameter ``name``, ``stale_seconds`` past its TTL (flushed at once:
    Powertools' metric set is shared by every ``Metrics`` of the process)."""
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():
        return
    metrics = Metrics(namespace="claimflow", service="parameter-cache")
    metrics.add_metric(name="ServingStale", unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="parameter", value=name)
    metrics.add_metadata(key="stale_seconds", value=round(stale_seconds, 1))
    metrics.flush_metrics()
