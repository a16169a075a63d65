"""A whole claimflow stack on loopback: embedded SSM, the third-party stand-in, signing
keys, and the Lambda emulator running every function of ``template.yaml``.

Used by ``make demo``, ``make dev``, the functional and end-to-end tests, and benchmarks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from claimflow.infra.lambda_invoke import LambdaInvokeClient
from claimflow.infra.ssm import SsmParameterStore
from claimflow.issuer.keys import KeyManager
from claimflow.wire.client import IssuerClient
from claimflow_local.emulator import LambdaEmulator
from claimflow_local.stack.ssm import EmbeddedSsm, load_settings, seed_parameters
from claimflow_local.stack.third_party import StubThirdPartyApi

__all__ = ["PROJECT_ROOT", "LocalDeployment"]

PROJECT_ROOT = Path(__file__).resolve().parents[3]


@dataclass
class LocalDeployment:
    root: Path = PROJECT_ROOT
    settings_path: Path | None = None
    log: IO[str] | None = None
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)
    env_vars: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)
    warm: bool = True

    def __post_init__(self) -> None:
        self.settings = load_settings(self.settings_path or self.root / "local" / "settings.json")
        self.ssm: EmbeddedSsm | None = None
        self.third_party: StubThirdPartyApi | None = None
        self.emulator: LambdaEmulator | None = None

    def start(self) -> LocalDeployment:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.ssm = EmbeddedSsm(port=self.ports.get("ssm", 0)).start()
        client = self.ssm.client()
        paths = seed_parameters(client, self.settings)
        keys = KeyManager(SsmParameterStore(client=client, max_age=0), paths)
        if keys.load() is None:
            keys.init(alg=self.settings.get("signing_algorithm", "RS256"))
        third_party = self.settings.get("third_party", {})
        self.third_party = StubThirdPartyApi(
            api_key=third_party.get("api_key"),
            subscribers=third_party.get("lifetime_subscribers", ()),
            organizations=third_party.get("client_organizations", {}),
            port=self.ports.get("third_party", 0),
        ).start()
        overrides = {"Stage": self.settings["stage"], "ThirdPartyApiUrl": self.third_party.url, **self.parameter_overrides}
        common = {
            "AWS_ENDPOINT_URL_SSM": self.ssm.url,
            "CLAIMFLOW_LOCAL_MODE": "1",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            **self.env_vars.get("Parameters", {}),
        }
        self.emulator = LambdaEmulator(
            self.root / "template.yaml",
            parameter_overrides=overrides,
            env_vars={**self.env_vars, "Parameters": common},
            port=self.ports.get("lambda", 0),
            url_ports={"JwksFunction": self.ports.get("jwks", 0)} if "jwks" in self.ports else None,
            log=self.log,
        ).start()
        if self.warm:
            self.emulator.warm()

    def stop(self) -> None:
        for part in (self.emulator, self.third_party, self.ssm):
            if part is not None:
                part.stop()

    def __enter__(self) -> LocalDeployment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- clients -------------------------------------------------------------------------------

    @property
    def jwks_url(self) -> str:
        assert self.emulator is not None
        return self.emulator.function_urls["JwksFunction"] + ".well-known/jwks.json"

    def issuer_client(self, *, max_pool: int = 16) -> IssuerClient:
        """The identity stack's client for the local issuer (claimflow.wire.client.IssuerClient)."""
        assert self.emulator is not None
        invoker = LambdaInvokeClient(
            endpoint=self.emulator.endpoint_url, region="us-east-1", credentials=("testing", "testing"), max_pool=max_pool
        )
        return IssuerClient("IssuerFunction", invoker=invoker)

    def lambda_client(self, **config: Any) -> Any:
        import boto3
        from botocore.config import Config

        assert self.emulator is not None
        return boto3.client(
            "lambda",
            endpoint_url=self.emulator.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 0}, read_timeout=60, **config),
        )
