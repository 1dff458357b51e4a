"""The batching GitOps writer's queue (onboarding.batching.GitOpsQueue) on one DynamoDB table.

One item per ticket. A pending change carries ``queue`` and ``enqueuedAt``, the keys of the sparse
``PendingIndex``; settling it rewrites the item without them, so it leaves the index. The flusher's lease
is the item ``lease#<queue>``. Items expire (TTL ``expiresAt``) a day after their last write.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from onboarding.adapters.aws import error_code, translated
from onboarding.adapters.dynamodb.codec import CONDITION_FAILED
from onboarding.batching import PendingChange, Settled
from onboarding.errors import GitOpsChangeTooLarge, TransientError
from onboarding.payloads import GitOpsChange

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PENDING_INDEX = "PendingIndex"
KEEP_SECONDS = 86400
MAX_FILES_BYTES = 350_000  # DynamoDB caps an item at 400 KB; the rest is names and the message
_BATCH_WRITE = 25  # DynamoDB's limit per BatchWriteItem
_UNPROCESSED_ROUNDS = 8


class DynamoGitOpsQueue:
    def __init__(self, table: str, client: DynamoDBClient | None = None, *, queue: str = "main") -> None:
        self._table = table
        self._queue = queue
        self._client: DynamoDBClient = client or boto3.client("dynamodb")

    def enqueue(self, change: PendingChange) -> None:
        size = sum(len(path) + len(content or b"") for path, content in change.files.items())
        if size > MAX_FILES_BYTES:
            raise GitOpsChangeTooLarge(f"{change.tenant_id}'s files take {size} bytes, above {MAX_FILES_BYTES}")
        files = {path: {"NULL": True} if content is None else {"B": content} for path, content in change.files.items()}
        item: dict[str, Any] = {
            "ticket": {"S": change.ticket},
            "queue": {"S": self._queue},
            "enqueuedAt": {"N": repr(change.enqueued_at)},
            "tenantId": {"S": change.tenant_id},
            "message": {"S": change.message},
            "files": {"M": files},
            "expiresAt": {"N": str(int(change.enqueued_at) + KEEP_SECONDS)},
        }
        with translated(f"dynamodb:PutItem pending GitOps change {change.ticket}"):
            self._client.put_item(TableName=self._table, Item=item)

    def pending(self, limit: int) -> list[PendingChange]:
        changes: list[PendingChange] = []
        start: dict[str, Any] | None = None
        while len(changes) < limit:
            query: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": PENDING_INDEX,
                "KeyConditionExpression": "#q = :q",
                "ExpressionAttributeNames": {"#q": "queue"},
                "ExpressionAttributeValues": {":q": {"S": self._queue}},
                "ScanIndexForward": True,
                "Limit": limit - len(changes),
            }
            if start:
                query["ExclusiveStartKey"] = start
            with translated("dynamodb:Query pending GitOps changes"):
                page = self._client.query(**query)
            changes += [_pending(item) for item in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        return changes

    def settled(self, ticket: str) -> Settled | None:
        with translated(f"dynamodb:GetItem GitOps change {ticket}"):
            item = self._client.get_item(TableName=self._table, Key={"ticket": {"S": ticket}}, ConsistentRead=True).get(
                "Item"
            )
        if item is None or "queue" in item or "batch" not in item:
            return None
        change = item.get("change", {}).get("S")
        return Settled(
            ticket=ticket,
            batch=item["batch"]["S"],
            change=GitOpsChange.model_validate(json.loads(change)) if change else None,
            error=item.get("error", {}).get("S"),
            cause=item.get("cause", {}).get("S"),
        )

    def settle(self, results: Sequence[Settled]) -> None:
        expires = {"N": str(int(time.time()) + KEEP_SECONDS)}
        requests = [{"PutRequest": {"Item": {**_settled(result), "expiresAt": expires}}} for result in results]
        for start in range(0, len(requests), _BATCH_WRITE):
            chunk: list[Any] = requests[start : start + _BATCH_WRITE]
            for _round in range(_UNPROCESSED_ROUNDS):
                with translated("dynamodb:BatchWriteItem settled GitOps changes"):
                    reply = self._client.batch_write_item(RequestItems={self._table: chunk})
                chunk = list(reply.get("UnprocessedItems", {}).get(self._table, []))
                if not chunk:
                    break
                time.sleep(0.05 * 2**_round)
            else:
                raise TransientError(f"DynamoDB left {len(chunk)} settled GitOps changes unprocessed")

    def withdraw(self, ticket: str) -> bool:
        with translated(f"dynamodb:DeleteItem pending GitOps change {ticket}"):
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key={"ticket": {"S": ticket}},
                    ConditionExpression="attribute_exists(#q)",
                    ExpressionAttributeNames={"#q": "queue"},
                )
            except ClientError as exc:
                if error_code(exc) == CONDITION_FAILED:
                    return False
                raise
        return True

    def acquire(self, owner: str, now: float, seconds: float) -> bool:
        with translated("dynamodb:PutItem GitOps flusher lease"):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item={
                        "ticket": {"S": self._lease},
                        "owner": {"S": owner},
                        "leaseUntil": {"N": repr(now + seconds)},
                        "expiresAt": {"N": str(int(now) + KEEP_SECONDS)},
                    },
                    ConditionExpression="attribute_not_exists(ticket) OR leaseUntil < :now",
                    ExpressionAttributeValues={":now": {"N": repr(now)}},
                )
            except ClientError as exc:
                if error_code(exc) == CONDITION_FAILED:
                    return False
                raise
        return True

    def release(self, owner: str) -> None:
        with translated("dynamodb:DeleteItem GitOps flusher lease"):
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key={"ticket": {"S": self._lease}},
                    ConditionExpression="#owner = :owner",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={":owner": {"S": owner}},
                )
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:  # another writer took it over after it expired
                    raise

    @property
    def _lease(self) -> str:
        return f"lease#{self._queue}"


def _pending(item: dict[str, Any]) -> PendingChange:
    files = {path: None if "NULL" in value else bytes(value["B"]) for path, value in item["files"]["M"].items()}
    return PendingChange(
        ticket=item["ticket"]["S"],
        tenant_id=item["tenantId"]["S"],
        files=files,
        message=item["message"]["S"],
        enqueued_at=float(item["enqueuedAt"]["N"]),
    )


def _settled(result: Settled) -> dict[str, Any]:
    item: dict[str, Any] = {"ticket": {"S": result.ticket}, "batch": {"S": result.batch}}
    if result.change is not None:
        item["change"] = {"S": result.change.model_dump_json()}
    if result.error is not None:
        item["error"] = {"S": result.error}
    if result.cause is not None:
        item["cause"] = {"S": result.cause[:2000]}
    return item
