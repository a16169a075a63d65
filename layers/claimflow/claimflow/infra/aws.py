"""The one place boto3 clients are made: imported on first use (a workflow that never
touches AWS never imports boto3), with short timeouts. Used for reads that are safe to repeat
(SSM); Lambda invocations, which are not, go through ``claimflow.infra.lambda_invoke``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.client import BaseClient

__all__ = ["aws_client"]


def aws_client(
    service: str,
    *,
    connect_timeout: float = 1.0,
    read_timeout: float = 2.0,
    max_attempts: int = 2,
    max_pool_connections: int = 10,
    endpoint_url: str | None = None,
) -> BaseClient:
    """A boto3 client with botocore's standard retry mode and short timeouts.

    What standard mode retries, up to ``max_attempts`` in all: throttling errors, 5xx answers,
    connection errors and read timeouts. A caller on the login path bounds its own wait (see
    ``claimflow.infra.parameters``), since ``max_attempts × (connect + read timeout)`` can exceed it.

    The endpoint is ``endpoint_url``, else boto3's own settings (``AWS_ENDPOINT_URL_<SERVICE>``),
    which is how local runs point SSM at moto.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        max_pool_connections=max_pool_connections,
        tcp_keepalive=True,
    )
    return boto3.client(service, config=config, endpoint_url=endpoint_url or None)
