"""The replay store every container of a stage shares: the template's ``HookReplayTable``.

Recording a call is one conditional PutItem (``attribute_not_exists``): DynamoDB accepts the
first write of a key and refuses every later one while the item lives, whichever container
sends it. The item carries ``expires_at`` (the call's own ``until``), DynamoDB's TTL attribute,
so used calls are deleted once stale; TTL deletes lazily, so the condition also lets a key whose
``expires_at`` has passed be written again. The issuer may only ``dynamodb:PutItem`` these two
attributes on that one table (template.yaml).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from claimflow.errors import ConfigurationError, DynamoDbApiError
from claimflow.issuer.errors import ReplayStoreError

if TYPE_CHECKING:
    from claimflow.infra.dynamodb_api import DynamoDbApi

__all__ = ["DynamoDbReplayStore"]

KEY = "id"
EXPIRES = "expires_at"  # the table's TTL attribute (TimeToLiveSpecification in template.yaml)
_CONDITION = "attribute_not_exists(#k) OR #e < :now"


class DynamoDbReplayStore:
    """A ``ReplayStore`` on a DynamoDB table; one per container, thread-safe. Each check waits at
    most ``timeout_seconds``; a check that cannot finish raises ``ReplayStoreError`` (the call is
    refused: a store that cannot answer never lets a replay through)."""

    def __init__(
        self,
        *,
        table: str,
        client: DynamoDbApi | None = None,
        timeout_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = table
        self._client = client
        self.timeout_seconds = timeout_seconds
        self.clock = clock

    @property
    def client(self) -> DynamoDbApi:
        if self._client is None:  # made on the first signed call: a stage with API-key hooks only never pays for it
            from claimflow.infra.dynamodb_api import DynamoDbApi

            self._client = DynamoDbApi(read_timeout=self.timeout_seconds)
        return self._client

    def first_use(self, key: str, *, until: float) -> bool:
        if not self.table:
            raise ConfigurationError(
                "no table for used hook signatures: set CLAIMFLOW_HOOK_REPLAY_TABLE (template.yaml's HookReplayTable)"
            )
        try:
            self.client.put_item(
                deadline=time.monotonic() + self.timeout_seconds,
                TableName=self.table,
                Item={KEY: {"S": key}, EXPIRES: {"N": str(math.ceil(until))}},
                ConditionExpression=_CONDITION,
                ExpressionAttributeNames={"#k": KEY, "#e": EXPIRES},
                ExpressionAttributeValues={":now": {"N": str(math.floor(self.clock()))}},
            )
        except DynamoDbApiError as error:  # every failure but a lost condition means "cannot tell"
            if error.code == "ConditionalCheckFailedException":
                return False
            raise ReplayStoreError(f"DynamoDB PutItem on {self.table} failed: {error}") from error
        return True
