"""What the command line reports instead of a traceback: ``CommandError`` (one line, naming
the fix), ``reaching_aws`` turning botocore's failures into one (a service that cannot be
reached is not a service that refused), and ``find_root`` (the project above the working folder).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from claimflow_local.stack.ports import local_url

__all__ = ["CommandError", "aws_client", "find_root", "reaching_aws", "ssm_client"]

#: What a command that talks to AWS suggests when AWS is not configured.
LOCAL_HINT = "or pass --local to use the local stack (make dev) instead"


class CommandError(Exception):
    """A command cannot do what was asked; the message is the one line it prints."""


def find_root(start: Path) -> Path:
    """The claimflow project ``start`` is in: the nearest folder at or above it with a template.yaml."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / "template.yaml").is_file():
            return directory
    raise CommandError(f"no template.yaml in {start} or any folder above it: run inside a claimflow project, or pass --root")


@contextmanager
def reaching_aws(*, local: bool, service: str = "SSM", where: str | None = None, hint: str = LOCAL_HINT) -> Iterator[None]:
    """Run AWS calls; each failure is one line: no region or credentials (``hint`` says the
    other way), an endpoint that cannot be reached, or a request the service refused."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
        ReadTimeoutError,
    )

    place = where or (f"make dev's {service} at {local_url('ssm')} (is make dev running?)" if local else f"AWS {service}")
    try:
        yield
    except NoRegionError:
        raise CommandError(f"no AWS region is configured: set AWS_REGION (or run `aws configure`), {hint}") from None
    except NoCredentialsError:
        raise CommandError(f"no AWS credentials found: set AWS_PROFILE or run `aws configure`, {hint}") from None
    except ParamValidationError as error:  # botocore refuses it before sending (an empty value, a name too long)
        raise CommandError(f"{service} does not take that request: {' '.join(str(error).split())}") from None
    except ClientError as error:  # the service answered, and said no
        details = error.response.get("Error", {})
        raise CommandError(f"{service} refused it: {details.get('Code')}: {details.get('Message')}") from None
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError) as error:
        raise CommandError(f"cannot reach {place}: {error}") from None
    except BotoCoreError as error:
        raise CommandError(f"{service} ({place}): {error}") from None


def aws_client(service: str, **options: Any) -> Any:
    """A boto3 client for ``service`` in the region the shell names: ``AWS_REGION`` as AWS CLI v2
    and the Lambda runtime read it (boto3 alone reads only ``AWS_DEFAULT_REGION``), then the profile's."""
    import os

    import boto3

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    return boto3.client(service, region_name=region, **options)  # type: ignore[call-overload]


def ssm_client(*, local: bool, endpoint: str | None = None) -> Any:
    """An SSM client: AWS's (region and credentials from the usual places), or a local stack's
    (``endpoint``, else make dev's default port)."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, retries={"max_attempts": 2, "mode": "standard"})
    with reaching_aws(local=local):
        if not local:
            return aws_client("ssm", config=config)
        return boto3.client(
            "ssm",
            endpoint_url=endpoint or local_url("ssm"),
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )
