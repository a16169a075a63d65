"""The replay store every container shares, for real: ``DynamoDbReplayStore`` over signed HTTP
(``DynamoDbApi``, no boto3) against moto's DynamoDB on 127.0.0.1, on the table the template
declares (created as local stacks create it). One signed call is accepted once whichever
container sees it; a store that cannot answer says so within its deadline, never "first use"."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from claimflow.infra.dynamodb_api import DynamoDbApi
from claimflow.infra.sigv4 import Credentials
from claimflow.issuer.errors import ReplayStoreError
from claimflow.issuer.hooks.dynamodb_replays import DynamoDbReplayStore
from claimflow_local.stack.ssm import EmbeddedSsm, create_tables
from tests.support import ROOT

TABLE = "HookReplayTable"  # the template's logical id: the name the emulator resolves its !Ref to


@pytest.fixture
def dynamodb(ssm: Any, embedded_ssm: EmbeddedSsm) -> Any:
    """moto reset (the ``ssm`` fixture), then the template's tables, as a local stack makes them."""
    client = embedded_ssm.client("dynamodb")
    assert create_tables(client, ROOT / "template.yaml") == [TABLE]
    return client


def container(endpoint: str, **options: Any) -> DynamoDbReplayStore:
    """The store one issuer container builds: its own client, its own connection pool."""
    api = DynamoDbApi(endpoint=endpoint, credentials=Credentials("testing", "testing"))
    return DynamoDbReplayStore(table=TABLE, client=api, **options)


def test_a_call_one_container_recorded_is_a_replay_to_every_other(dynamodb: Any, embedded_ssm: EmbeddedSsm) -> None:
    first, second = container(embedded_ssm.url), container(embedded_ssm.url)
    until = time.time() + 300
    assert first.first_use("generic#sig-1", until=until)
    assert not second.first_use("generic#sig-1", until=until)
    assert not first.first_use("generic#sig-1", until=until)
    assert second.first_use("generic#sig-2", until=until)
    [item] = [i for i in dynamodb.scan(TableName=TABLE)["Items"] if i["id"]["S"] == "generic#sig-1"]
    assert item["expires_at"] == {"N": str(math.ceil(until))}  # TTL at the signed time's end, rounded up


def test_sixteen_containers_racing_on_one_call_accept_it_exactly_once(dynamodb: Any, embedded_ssm: EmbeddedSsm) -> None:
    stores = [container(embedded_ssm.url) for _ in range(16)]
    start = threading.Barrier(len(stores))
    results: list[bool] = []

    def race(store: DynamoDbReplayStore) -> None:
        start.wait()
        results.append(store.first_use("generic#raced", until=time.time() + 300))

    threads = [threading.Thread(target=race, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 15 + [True]


def test_a_key_whose_signed_time_has_passed_may_be_written_again_before_ttl_deletes_it(
    dynamodb: Any, embedded_ssm: EmbeddedSsm
) -> None:
    store = container(embedded_ssm.url)
    assert store.first_use("generic#old", until=time.time() - 10)
    assert store.first_use("generic#old", until=time.time() + 300)  # TTL deletes lazily; the condition does not wait
    assert not store.first_use("generic#old", until=time.time() + 300)


def test_a_missing_table_is_an_error_naming_it(dynamodb: Any, embedded_ssm: EmbeddedSsm) -> None:
    api = DynamoDbApi(endpoint=embedded_ssm.url, credentials=Credentials("testing", "testing"))
    with pytest.raises(ReplayStoreError, match="PutItem on NoSuchTable failed: DynamoDB ResourceNotFoundException"):
        DynamoDbReplayStore(table="NoSuchTable", client=api).first_use("k", until=time.time() + 300)


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """Accepts connections (the kernel's backlog) and never answers: a hung DynamoDB."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


@pytest.fixture
def closed_endpoint() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens once closed


@pytest.mark.parametrize("endpoint", ["silent_endpoint", "closed_endpoint"])
def test_a_store_that_hangs_or_refuses_raises_within_its_deadline(endpoint: str, request: pytest.FixtureRequest) -> None:
    api = DynamoDbApi(endpoint=request.getfixturevalue(endpoint), credentials=Credentials("testing", "testing"), read_timeout=10)
    store = DynamoDbReplayStore(table=TABLE, client=api, timeout_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(ReplayStoreError, match="DynamoDB PutItem on HookReplayTable failed"):
        store.first_use("generic#k", until=time.time() + 300)
    assert time.monotonic() - started < 0.5 + 2.5  # the store's deadline, not the client's 10 s read timeout


def test_the_login_path_records_a_call_without_importing_boto3(dynamodb: Any, embedded_ssm: EmbeddedSsm) -> None:
    probe = (
        "import sys, time\n"
        "from claimflow.issuer.hooks.dynamodb_replays import DynamoDbReplayStore\n"
        f"print(DynamoDbReplayStore(table={TABLE!r}).first_use('generic#probe', until=time.time() + 60))\n"
        "print(sorted({'boto3', 'botocore'} & set(sys.modules)))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "AWS_ENDPOINT_URL_DYNAMODB": embedded_ssm.url,  # as the local stack sets it for the issuer
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env).stdout
    assert out.split("\n")[:2] == ["True", "[]"]
