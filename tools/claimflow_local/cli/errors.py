"""What the command line reports instead of a traceback: ``CommandError`` (one line, naming
the fix), and ``reaching_aws`` turning botocore's failures into one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from claimflow_local.stack.ports import local_url

__all__ = ["CommandError", "reaching_aws", "ssm_client"]


class CommandError(Exception):
    """A command cannot do what was asked; the message is the one line it prints."""


@contextmanager
def reaching_aws(*, local: bool, service: str = "SSM") -> Iterator[None]:
    """Run AWS calls; a missing region or credentials, or an unreachable endpoint, is one line."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        yield
    except NoRegionError:
        raise CommandError(
            "no AWS region is configured: set AWS_REGION (or run `aws configure`), or pass --local to use make dev's"
        ) from None
    except NoCredentialsError:
        raise CommandError(
            "no AWS credentials found: set AWS_PROFILE or run `aws configure`, or pass --local to use make dev's"
        ) from None
    except (BotoCoreError, ClientError) as error:
        where = (
            f"make dev's SSM at {local_url('ssm')} (is make dev running?)" if local else f"AWS {service} (credentials, region?)"
        )
        raise CommandError(f"cannot reach {where}: {error}") from None


def ssm_client(*, local: bool) -> Any:
    """An SSM client: AWS's (region and credentials from the usual places), or make dev's."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, retries={"max_attempts": 2, "mode": "standard"})
    with reaching_aws(local=local):
        if not local:
            return boto3.client("ssm", config=config)
        return boto3.client(
            "ssm",
            endpoint_url=local_url("ssm"),
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )
