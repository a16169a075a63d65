"""Names of every environment variable claimflow reads, and the SSM paths derived from them.

Configuration is resolved when objects are built (explicit argument, then env var, then
default), never at import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from claimflow.errors import ConfigurationError

__all__ = ["Env", "SsmPaths", "env_flag", "env_float", "env_int", "env_str"]


class Env:
    """Environment variable names; one prefix, one place."""

    STAGE = "CLAIMFLOW_STAGE"
    SSM_PREFIX = "CLAIMFLOW_SSM_PREFIX"
    LOCAL_MODE = "CLAIMFLOW_LOCAL_MODE"
    ENV_TTL_SECONDS = "CLAIMFLOW_ENV_TTL_SECONDS"
    FETCH_TIMEOUT_SECONDS = "CLAIMFLOW_FETCH_TIMEOUT_SECONDS"
    FETCH_MAX_BYTES = "CLAIMFLOW_FETCH_MAX_BYTES"
    ISSUER_URL = "CLAIMFLOW_ISSUER_URL"  # the issuer's URL (a custom domain); empty: the JWKS function's URL
    JWKS_FUNCTION_URL = "CLAIMFLOW_JWKS_FUNCTION_URL"
    ACCESS_TOKEN_TTL = "CLAIMFLOW_ACCESS_TOKEN_TTL_SECONDS"
    ID_TOKEN_TTL = "CLAIMFLOW_ID_TOKEN_TTL_SECONDS"
    M2M_TOKEN_TTL = "CLAIMFLOW_M2M_TOKEN_TTL_SECONDS"
    ALLOWED_AUDIENCES = "CLAIMFLOW_ALLOWED_AUDIENCES"
    WORKFLOWS = "CLAIMFLOW_WORKFLOWS"
    DISABLED_WORKFLOWS = "CLAIMFLOW_DISABLED_WORKFLOWS"  # registered ids that do not run in this stage
    ISSUANCE_BUDGET_MS = "CLAIMFLOW_ISSUANCE_BUDGET_MS"
    MAX_TOKEN_BYTES = "CLAIMFLOW_MAX_TOKEN_BYTES"
    KEYSET_TTL_SECONDS = "CLAIMFLOW_KEYSET_TTL_SECONDS"
    #: How long past its TTL a cached secret (a hook secret, an env secret, the key set) may be
    #: served while SSM fails; then reads fail closed (the MaxStaleSeconds parameter).
    MAX_STALE_SECONDS = "CLAIMFLOW_MAX_STALE_SECONDS"
    #: Where signing keys are made and kept: ``ssm`` (private JWKs, SecureString) or ``kms`` (AWS KMS).
    SIGNING_KEY_STORE = "CLAIMFLOW_SIGNING_KEY_STORE"
    KEYSET_KMS_KEY = "CLAIMFLOW_KEYSET_KMS_KEY"  # the KMS key the private key set is encrypted under (ssm)
    #: The account principal (arn:<partition>:iam::<account>:root) a KMS signing key's policy lets administer it (kms).
    KMS_KEY_ACCOUNT = "CLAIMFLOW_KMS_KEY_ACCOUNT"
    KEY_ROTATION_PERIOD_DAYS = "CLAIMFLOW_KEY_ROTATION_PERIOD_DAYS"
    SIGNING_ALGORITHM = "CLAIMFLOW_SIGNING_ALGORITHM"
    #: The identity stack's OAuth endpoints and capabilities, for discovery (empty: not served).
    AUTHORIZATION_ENDPOINT = "CLAIMFLOW_AUTHORIZATION_ENDPOINT"
    TOKEN_ENDPOINT = "CLAIMFLOW_TOKEN_ENDPOINT"
    USERINFO_ENDPOINT = "CLAIMFLOW_USERINFO_ENDPOINT"
    END_SESSION_ENDPOINT = "CLAIMFLOW_END_SESSION_ENDPOINT"
    REVOCATION_ENDPOINT = "CLAIMFLOW_REVOCATION_ENDPOINT"
    GRANT_TYPES = "CLAIMFLOW_GRANT_TYPES"
    SCOPES = "CLAIMFLOW_SCOPES"
    TOKEN_ENDPOINT_AUTH_METHODS = "CLAIMFLOW_TOKEN_ENDPOINT_AUTH_METHODS"
    #: Where SSM and Lambda are reached (empty: AWS's own endpoints); for sam local and make dev.
    SSM_ENDPOINT = "CLAIMFLOW_SSM_ENDPOINT"
    KMS_ENDPOINT = "CLAIMFLOW_KMS_ENDPOINT"
    TRACING = "CLAIMFLOW_TRACING"  # the TracingMode parameter: Active opens X-Ray spans
    CLAIMS_HOOKS = "CLAIMFLOW_CLAIMS_HOOKS"  # the claims hooks the issuer's URL answers (hydra, zitadel, generic)
    #: The DynamoDB table of used hook signatures every container shares (HookReplayTable), and where
    #: DynamoDB is reached (empty: its own endpoint, or boto3's AWS_ENDPOINT_URL_DYNAMODB; sam local: moto).
    HOOK_REPLAY_TABLE = "CLAIMFLOW_HOOK_REPLAY_TABLE"
    DYNAMODB_ENDPOINT = "CLAIMFLOW_DYNAMODB_ENDPOINT"
    LAMBDA_ENDPOINT = "CLAIMFLOW_LAMBDA_ENDPOINT"
    #: Local runs only: hosts a workflow may fetch beyond its url binding's allowedHosts (local/settings.json).
    LOCAL_ALLOWED_HOSTS = "CLAIMFLOW_LOCAL_ALLOWED_HOSTS"
    #: Local runs only: where the function's code lives in the project (functions/<name>), for error locations.
    SOURCE_DIR = "CLAIMFLOW_SOURCE_DIR"
    #: Recording logins (claimflow.record): the share of token requests recorded (RecordSampleRate),
    #: the bucket and KMS key they go to, and in local mode the directory (every login recorded).
    RECORD_SAMPLE_RATE = "CLAIMFLOW_RECORD_SAMPLE_RATE"
    RECORD_BUCKET = "CLAIMFLOW_RECORD_BUCKET"
    RECORD_KMS_KEY = "CLAIMFLOW_RECORD_KMS_KEY"
    RECORD_DIR = "CLAIMFLOW_RECORD_DIR"


DEFAULT_STAGE = "local"
DEFAULT_SSM_PREFIX = "/claimflow"


def env_str(name: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    value = (os.environ if environ is None else environ).get(name, "")
    return value if value.strip() else default


def env_int(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    raw = env_str(name, str(default), environ)
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name}={raw!r} must be a whole number") from None


def env_float(name: str, default: float, environ: Mapping[str, str] | None = None) -> float:
    raw = env_str(name, str(default), environ)
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name}={raw!r} must be a number") from None


def env_list(name: str, default: str = "", environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """A list written with commas or spaces (as CloudFormation's ``CommaDelimitedList`` joins them)."""
    text = env_str(name, default, environ)
    return tuple(item for item in (part.strip() for part in text.replace(" ", ",").split(",")) if item)


def env_flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    return env_str(name, "", environ).lower() in {"1", "true", "yes", "on"}


class SsmPaths:
    """Where each piece of a stage lives in Parameter Store; template.yaml grants exactly these."""

    def __init__(self, *, stage: str | None = None, prefix: str | None = None) -> None:
        self.stage = stage or env_str(Env.STAGE, DEFAULT_STAGE)
        self.prefix = (prefix or env_str(Env.SSM_PREFIX, DEFAULT_SSM_PREFIX)).rstrip("/")

    @property
    def shared_env(self) -> str:
        """Variables every workflow of the stage can read."""
        return f"{self.prefix}/{self.stage}/env"

    def workflow_env(self, workflow_id: str) -> str:
        """Variables only one workflow reads; they win over shared ones of the same name."""
        return f"{self.prefix}/{self.stage}/workflows/{workflow_id}/env"

    def secure_fetch_key(self, workflow_id: str) -> str:
        return f"{self.prefix}/{self.stage}/workflows/{workflow_id}/secure-fetch-key"

    @property
    def signing_keyset(self) -> str:
        """The private JWK set (SecureString); only the issuer and the key CLI read it."""
        return f"{self.prefix}/{self.stage}/signing/keyset"

    def hook_secret(self, route: str) -> str:
        """The shared secret (SecureString) a claims hook's caller authenticates with."""
        return f"{self.prefix}/{self.stage}/hooks/{route}/secret"

    @property
    def signing_status(self) -> str:
        """Each key's state and times, without key material (String): what ``keys status`` reads."""
        return f"{self.prefix}/{self.stage}/signing/status"

    @property
    def recordings_bucket(self) -> str:
        """The name of the stage's recordings bucket (String; RecordSampleRate above 0): what
        ``claimflow recordings pull`` reads."""
        return f"{self.prefix}/{self.stage}/recordings/bucket"

    def recordings_prefix(self) -> str:
        """Where the stage's recordings lie in that bucket; the issuer may write under it alone."""
        return f"recordings/{self.stage}/"

    @property
    def public_jwks(self) -> str:
        """The public JWK set (String) the JWKS function serves."""
        return f"{self.prefix}/{self.stage}/signing/jwks"
