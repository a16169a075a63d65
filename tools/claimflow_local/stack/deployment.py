"""A whole claimflow stack on loopback: embedded SSM, the third-party stand-in, signing
keys, the example identity stack's OAuth token endpoint (which discovery advertises), and the
Lambda emulator running every function of the built template.

It builds first (``sam build --cached``, a second when nothing changed), so what runs locally
is what deploys: the built functions and layer, through the Lambda runtime interface client.
Each stack runs a snapshot of that build (hard links under ``.aws-sam/runs``, removed when it
stops), as a deployment is immutable: a ``sam build`` in another terminal deletes and rewrites
``.aws-sam/build`` and must not pull a running stack's code from under its sandboxes.
Used by ``make demo``, ``make dev``, the functional and end-to-end tests, and benchmarks.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from identity_stack.clients import ClientRegistry
from identity_stack.token_endpoint import ClientCredentialsGrant, OAuthTokenEndpoint

from claimflow.environment import Env
from claimflow.infra.kms_api import KmsApi
from claimflow.infra.lambda_api import LambdaInvokeClient
from claimflow.infra.sigv4 import Credentials
from claimflow.infra.ssm import SsmParameterStore
from claimflow.keys.kms_keys import KmsKeys
from claimflow.keys.manager import KeyManager, KeySource, LocalKeys
from claimflow.wire.client import IssuerClient
from claimflow_local.emulator import LambdaEmulator
from claimflow_local.stack.entra_keys import EntraKeysStandIn
from claimflow_local.stack.local_state import LOCAL_STATE_VARIABLE, LocalEnvStore, merged_env
from claimflow_local.stack.ssm import EmbeddedSsm, create_tables, load_settings, seed_parameters
from claimflow_local.stack.third_party import ROUTES_FILE, RouteTable, StubThirdPartyApi
from claimflow_local.template import ACCOUNT, SamTemplate

__all__ = ["LOCAL_STATE_VARIABLE", "PROJECT_ROOT", "BuildError", "LocalDeployment", "built_snapshot", "sam_build"]

PROJECT_ROOT = Path(__file__).resolve().parents[3]


class BuildError(Exception):
    """``sam build`` failed or is not installed."""


def sam_build(root: Path, *, log: IO[str] | None = None) -> Path:
    """``sam build --cached`` in ``root``; the built template's path."""
    with _one_build_at_a_time(root):
        return _sam_build(root, log=log)


def built_snapshot(root: Path, *, build: bool = True, log: IO[str] | None = None) -> Path:
    """A private snapshot of ``root``'s build (building first when ``build``): its template's
    path. Remove its folder (the template's parent) when done with it."""
    with _one_build_at_a_time(root):
        built = _sam_build(root, log=log).parent if build else root / ".aws-sam" / "build"
        if not (built / "template.yaml").exists():
            raise BuildError(f"no built template at {built / 'template.yaml'}: run make build")
        runs = root / ".aws-sam" / "runs"
        runs.mkdir(exist_ok=True)
        _remove_orphaned_snapshots(runs)
        snapshot = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=runs))
        # sam build replaces files rather than rewriting them, so links keep this build's bytes
        shutil.copytree(built, snapshot, symlinks=True, copy_function=_link_or_copy, dirs_exist_ok=True)
        return snapshot / "template.yaml"


@contextmanager
def _one_build_at_a_time(root: Path) -> Iterator[None]:
    """Across processes (POSIX advisory lock): no build deletes what another is building or copying."""
    lock = root / ".aws-sam" / "build.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        if sys.platform != "win32":
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem, or links refused: a copy keeps the bytes just as well
        shutil.copy2(source, target)


def _remove_orphaned_snapshots(runs: Path) -> None:
    """Snapshots of stacks whose process is gone (killed before it could remove its own)."""
    if sys.platform == "win32":  # os.kill(pid, 0) terminates the process there
        return
    for snapshot in runs.iterdir():
        pid = snapshot.name.split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(snapshot, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _sam_build(root: Path, *, log: IO[str] | None) -> Path:
    sam = os.environ.get("CLAIMFLOW_SAM") or str(PROJECT_ROOT / ".venv-sam" / "bin" / "sam")
    if not Path(sam).exists():
        sam = shutil.which("sam") or ""
    if not sam:
        raise BuildError("sam (AWS SAM CLI) is not installed: run make, which installs it in .venv-sam")
    # sam's python builder looks for python3.<minor> on PATH: the interpreter running us is one.
    path = os.pathsep.join([str(Path(getattr(sys, "_base_executable", sys.executable)).parent), os.environ.get("PATH", "")])
    run = subprocess.run(
        [sam, "build", "--cached", "--parallel"],
        cwd=root,
        env={**os.environ, "PATH": path, "SAM_CLI_TELEMETRY": "0"},
        capture_output=True,
        text=True,
        check=False,
        start_new_session=True,  # a Ctrl-C is ours to handle (we stop the build), not sam's to print
    )
    if log is not None:
        log.write(run.stdout + run.stderr)
    if run.returncode != 0:
        raise BuildError(f"sam build failed in {root}:\n{(run.stdout + run.stderr)[-3000:]}")
    return root / ".aws-sam" / "build" / "template.yaml"


@dataclass
class LocalDeployment:
    root: Path = PROJECT_ROOT
    settings_path: Path | None = None
    log: IO[str] | None = None
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)
    env_vars: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)
    warm: bool = True
    build: bool = True  # sam build first; False runs the last build as it is
    recordings: Path | None = None  # where the issuer records every login (make dev, make demo: .claimflow/recordings)

    #: Told of every invocation's result (make dev prints a refused token's report).
    observer: Callable[[str, Any], None] | None = None
    #: Seed the variables ``env set --local`` stored (local/state/env.json); None: unless
    #: CLAIMFLOW_LOCAL_STATE=ignore (the project's own tests set it: a developer's store stays theirs).
    local_state: bool | None = None

    def __post_init__(self) -> None:
        self.settings = load_settings(self.settings_path or self.root / "local" / "settings.json")
        self.source = SamTemplate.load(self.root / "template.yaml")
        self.ssm: EmbeddedSsm | None = None
        self.third_party: StubThirdPartyApi | None = None
        self.oauth: OAuthTokenEndpoint | None = None
        self.emulator: LambdaEmulator | None = None
        self.entra_keys: EntraKeysStandIn | None = None  # the tenant JWKS the entra hook checks calls against
        self._snapshot: Path | None = None

    @property
    def parameters(self) -> dict[str, str]:
        """The template parameters this stack runs with: the template's defaults, local/settings.json's
        ``parameters``, then ``parameter_overrides`` (as sam's ``--parameter-overrides``)."""
        return SamTemplate(
            self.source.path, self.source.document, {**self.settings.get("parameters", {}), **self.parameter_overrides}
        ).parameters()

    @property
    def seeds_local_state(self) -> bool:
        if self.local_state is not None:
            return self.local_state
        return os.environ.get(LOCAL_STATE_VARIABLE, "") != "ignore"

    def start(self) -> LocalDeployment:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _key_source(self, stage: str) -> KeySource:
        """Keys made here (``ssm``) or in the embedded KMS (``kms``), as the template's ``SigningKeyStore`` says."""
        if self.parameters["SigningKeyStore"] != "kms":
            return LocalKeys()
        assert self.ssm is not None
        kms = KmsApi(endpoint=self.ssm.url, credentials=Credentials("testing", "testing"))
        return KmsKeys(kms, stage=stage, account=f"arn:aws:iam::{ACCOUNT}:root")  # moto's account

    def seeded_env(self) -> dict[str, Any]:
        """The variables this stack seeds: local/settings.json's, then what ``env set --local`` stored."""
        store = LocalEnvStore(self.root).load() if self.seeds_local_state else {}
        return merged_env(self.settings.get("env", {}), store)

    def _start(self) -> None:
        self.ssm = EmbeddedSsm(port=self.ports.get("ssm", 0)).launch()  # moto imports while sam builds
        routes = RouteTable.load(self.root / ROUTES_FILE)
        built = built_snapshot(self.root, build=self.build, log=self.log)
        self._snapshot = built.parent
        self.entra_keys = EntraKeysStandIn.for_settings(self.settings)
        if self.entra_keys is not None:
            self.settings = self.entra_keys.start().configured(self.settings)
        self.ssm.start()
        client = self.ssm.client()
        paths = seed_parameters(client, {**self.settings, "env": self.seeded_env()})
        create_tables(self.ssm.client("dynamodb"), built)
        parameters = self.parameters
        keys = KeyManager(SsmParameterStore(client=client, max_age=0), paths, keys=self._key_source(paths.stage))
        if keys.load() is None:  # as a deployed stack's first rotation: the template's algorithm
            keys.init(alg=parameters["SigningAlgorithm"])
        self.oauth = self._identity_stack(client)
        self.third_party = StubThirdPartyApi(
            routes=routes, port=self.ports.get("third_party", 0), on_unrouted=self._unrouted
        ).start()
        scopes = sorted({scope for client in self.settings.get("example_clients", {}).values() for scope in client["scopes"]})
        overrides = {
            "Stage": self.settings["stage"],
            "ThirdPartyApiUrl": self.third_party.url,
            # What discovery advertises: the example identity stack in front of the issuer.
            "TokenEndpoint": self.oauth.url,
            "TokenEndpointAuthMethods": "client_secret_basic,client_secret_post",
            "ScopesSupported": ",".join(scopes),
            "ClaimsHooks": ",".join(sorted(self.settings.get("hooks", {}))),
            **self.settings.get("parameters", {}),
            **self.parameter_overrides,
        }
        common = {
            "AWS_ENDPOINT_URL_SSM": self.ssm.url,
            "AWS_ENDPOINT_URL_KMS": self.ssm.url,  # moto serves KMS too (SigningKeyStore=kms)
            "AWS_ENDPOINT_URL_DYNAMODB": self.ssm.url,  # and DynamoDB (the hooks' used signatures)
            "CLAIMFLOW_LOCAL_MODE": "1",
            Env.LOCAL_ALLOWED_HOSTS: ",".join(self.settings.get("allowed_hosts", [])),
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            **({"CLAIMFLOW_RECORD_DIR": str(self.recordings)} if self.recordings else {}),
            **self.env_vars.get("Parameters", {}),
        }
        per_function = {name: {Env.SOURCE_DIR: where} for name, where in self.source_dirs().items()}
        for name, variables in self.env_vars.items():
            if name != "Parameters":
                per_function[name] = {**per_function.get(name, {}), **variables}
        self.emulator = LambdaEmulator(
            built,
            parameter_overrides=overrides,
            env_vars={**per_function, "Parameters": common},
            port=self.ports.get("lambda", 0),
            url_ports={"JwksFunction": self.ports.get("jwks", 0), "IssuerFunction": self.ports.get("hooks", 0)},
            log=self.log,
            observer=self.observer,
        ).start()
        self.oauth.grant.issuer = self.issuer_client()
        if self.warm:
            self.emulator.warm()

    def source_dirs(self) -> dict[str, str]:
        """Each function's code as the project holds it (``functions/<name>``), by logical id: what
        error reports name instead of the build's copy."""
        found = {}
        for name in self.source.function_resources():
            with contextlib.suppress(KeyError, ValueError):
                found[name] = self.source.code_dir(name).relative_to(self.root.resolve()).as_posix()
        return found

    def _unrouted(self, method: str, path: str) -> None:
        if self.log is not None:
            with contextlib.suppress(ValueError):  # the log closed at shutdown
                self.log.write(f"third-party stand-in: {method} {path} is no route of {ROUTES_FILE}: answered 404\n")
                self.log.flush()

    @property
    def snapshot(self) -> Path | None:
        """The folder of the build this stack runs (a private copy under .aws-sam/runs)."""
        return self._snapshot

    def rebuild(self) -> None:
        """``sam build`` again and run the new build on the same ports (make dev, after the
        template changed). A failed build raises ``BuildError`` and the running one stays."""
        assert self.emulator is not None
        built = built_snapshot(self.root, build=True, log=self.log)
        try:
            self.source = SamTemplate.load(self.root / "template.yaml")
            self.emulator.set_function_environments({name: {Env.SOURCE_DIR: where} for name, where in self.source_dirs().items()})
            self.emulator.reload(built)
        except BaseException:
            shutil.rmtree(built.parent, ignore_errors=True)
            raise
        old, self._snapshot = self._snapshot, built.parent
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)  # what still runs from it has its files open

    def reload_routes(self) -> RouteTable:
        """Serve ``local/third_party.yaml`` as it is now (raises ``RoutesError`` and keeps the old routes)."""
        assert self.third_party is not None
        routes = RouteTable.load(self.root / ROUTES_FILE)
        self.third_party.configure(routes=routes)
        return routes

    def _identity_stack(self, ssm_client: Any) -> OAuthTokenEndpoint:
        """The example identity stack's token endpoint, its clients seeded; it gets its issuer
        client once the emulator runs (discovery needs its URL first)."""
        registry = ClientRegistry(SsmParameterStore(client=ssm_client, max_age=30), stage=self.settings["stage"])
        for client_id, record in self.settings.get("example_clients", {}).items():
            registry.register(client_id, secret=record["secret"], scopes=record["scopes"], audience=record["audience"])
        return OAuthTokenEndpoint(ClientCredentialsGrant(None, registry), port=self.ports.get("oauth", 0)).start()

    def stop(self) -> None:
        parts = [part for part in (self.emulator, self.third_party, self.oauth, self.ssm, self.entra_keys) if part is not None]
        with ThreadPoolExecutor(max_workers=5) as workers:  # together: each waits on its own servers and processes
            list(workers.map(lambda part: part.stop(), parts))
        if self._snapshot is not None:
            shutil.rmtree(self._snapshot, ignore_errors=True)
            self._snapshot = None

    def __enter__(self) -> LocalDeployment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- clients -------------------------------------------------------------------------------

    @property
    def issuer_url(self) -> str:
        """The iss of the local stack's tokens: the JWKS function's URL, as in AWS."""
        assert self.emulator is not None
        return self.emulator.function_urls["JwksFunction"].rstrip("/")

    @property
    def hooks_url(self) -> str:
        """Where identity stacks that sign their own tokens call for claims (``<url>/hooks/<name>``)."""
        assert self.emulator is not None
        return self.emulator.function_urls["IssuerFunction"].rstrip("/")

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer_url}/.well-known/jwks.json"

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
