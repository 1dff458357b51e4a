"""The batching GitOps writer's queue (onboarding.batching.GitOpsQueue) on one DynamoDB table.

One item per ticket. A pending change carries ``queue`` and ``enqueuedAt``, the keys of the sparse
``PendingIndex``; a flush's claim adds ``claim`` (the flush id), ``claimUntil`` and ``claimedAt``; settling
it rewrites the item without them (only while that flush still claims it), so it leaves the index;
revoking a claim (a writer that gave up) removes it from the index and marks it ``revoked``, keeping the
claim. Before each push a flush records its base in the item ``flush#<id>``. The flusher's lease is the
item ``lease#<queue>``. Items expire (TTL ``expiresAt``) a day after their last write.
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
from onboarding.batch_queue import PendingChange, Settled, Withdrawal
from onboarding.errors import GitOpsChangeTooLarge, TransientError
from onboarding.payloads import GitOpsChange

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PENDING_INDEX = "PendingIndex"
KEEP_SECONDS = 86400
MAX_FILES_BYTES = 350_000  # DynamoDB caps an item at 400 KB; the rest is names and the message
_BATCH_GET = 100  # DynamoDB's limit per BatchGetItem
_UNPROCESSED_ROUNDS = 8


class DynamoGitOpsQueue:
    def __init__(self, table: str, client: DynamoDBClient | None = None, *, queue: str = "main") -> None:
        self._table = table
        self._queue = queue
        self._client: DynamoDBClient = client or boto3.client("dynamodb")

    def enqueue(self, change: PendingChange, now: float) -> None:
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
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=item,
                    # never over a live claim: that flush may be pushing it, and its outcome is the change's
                    ConditionExpression="attribute_not_exists(#c) OR #cu < :now OR attribute_exists(revoked)",
                    ExpressionAttributeNames={"#c": "claim", "#cu": "claimUntil"},
                    ExpressionAttributeValues={":now": {"N": repr(now)}},
                )
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise

    def pending(self, limit: int, now: float) -> list[PendingChange]:
        changes: list[PendingChange] = []
        start: dict[str, Any] | None = None
        while len(changes) < limit:
            query: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": PENDING_INDEX,
                "KeyConditionExpression": "#q = :q",
                "FilterExpression": "attribute_not_exists(#c) OR #cu < :now",  # unclaimed, or its flush is over
                "ExpressionAttributeNames": {"#q": "queue", "#c": "claim", "#cu": "claimUntil"},
                "ExpressionAttributeValues": {":q": {"S": self._queue}, ":now": {"N": repr(now)}},
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

    def claim(self, changes: Sequence[PendingChange], flush: str, now: float, until: float) -> list[str]:
        claimed: list[str] = []
        for change in changes:
            with translated(f"dynamodb:UpdateItem claim GitOps change {change.ticket}"):
                try:
                    self._client.update_item(
                        TableName=self._table,
                        Key={"ticket": {"S": change.ticket}},
                        UpdateExpression="SET #c = :f, #cu = :until, claimedAt = :now",
                        # the very change that was read (not a re-enqueued one), pending, and not claimed by a live
                        # flush (a revoked change has left the index: attribute_exists(queue) fails); a request
                        # retried after a lost reply finds its own claim
                        ConditionExpression=(
                            "attribute_exists(#q) AND enqueuedAt = :at"
                            " AND (attribute_not_exists(#c) OR #cu < :now OR #c = :f)"
                        ),
                        ExpressionAttributeNames={"#q": "queue", "#c": "claim", "#cu": "claimUntil"},
                        ExpressionAttributeValues={
                            ":f": {"S": flush},
                            ":until": {"N": repr(until)},
                            ":now": {"N": repr(now)},
                            ":at": {"N": repr(change.enqueued_at)},
                        },
                    )
                except ClientError as exc:
                    if error_code(exc) == CONDITION_FAILED:
                        continue
                    raise
            claimed.append(change.ticket)
        return claimed

    def pushing(self, flush: str, base: str | None, tickets: Sequence[str]) -> set[str]:
        record = {
            "ticket": {"S": f"flush#{flush}"},
            "base": {"NULL": True} if base is None else {"S": base},
            "expiresAt": {"N": str(int(time.time()) + KEEP_SECONDS)},
        }
        with translated(f"dynamodb:PutItem GitOps flush {flush}"):
            self._client.put_item(TableName=self._table, Item=record)
        held: set[str] = set()
        for start in range(0, len(tickets), _BATCH_GET):
            keys: list[Any] = [{"ticket": {"S": t}} for t in tickets[start : start + _BATCH_GET]]
            for _round in range(_UNPROCESSED_ROUNDS):
                request: Any = {
                    self._table: {
                        "Keys": keys,
                        "ConsistentRead": True,
                        "ProjectionExpression": "ticket, #c, revoked",
                        "ExpressionAttributeNames": {"#c": "claim"},
                    }
                }
                with translated("dynamodb:BatchGetItem GitOps claims"):
                    reply = self._client.batch_get_item(RequestItems=request)
                for item in reply.get("Responses", {}).get(self._table, []):
                    if item.get("claim", {}).get("S") == flush and "revoked" not in item:
                        held.add(item["ticket"]["S"])
                unprocessed: Any = reply.get("UnprocessedKeys", {})
                keys = list(unprocessed.get(self._table, {}).get("Keys", []))
                if not keys:
                    break
                time.sleep(0.05 * 2**_round)
            else:
                raise TransientError(f"DynamoDB left {len(keys)} GitOps claims unread")
        return held

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

    def settle(self, flush: str, results: Sequence[Settled]) -> None:
        expires = {"N": str(int(time.time()) + KEEP_SECONDS)}
        for result in results:
            with translated(f"dynamodb:PutItem settled GitOps change {result.ticket}"):
                try:
                    self._client.put_item(
                        TableName=self._table,
                        Item={**_settled(result), "expiresAt": expires},
                        ConditionExpression="#c = :f",  # withdrawn, re-enqueued or claimed by another: not ours
                        ExpressionAttributeNames={"#c": "claim"},
                        ExpressionAttributeValues={":f": {"S": flush}},
                    )
                except ClientError as exc:
                    if error_code(exc) != CONDITION_FAILED:
                        raise

    def withdraw(self, ticket: str) -> Withdrawal:
        key = {"ticket": {"S": ticket}}
        with translated(f"dynamodb:DeleteItem pending GitOps change {ticket}"):
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key=key,
                    ConditionExpression="attribute_exists(#q) AND attribute_not_exists(#c)",
                    ExpressionAttributeNames={"#q": "queue", "#c": "claim"},
                )
                return Withdrawal("withdrawn")
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise
        with translated(f"dynamodb:UpdateItem revoke GitOps claim {ticket}"):
            try:
                item = self._client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="SET revoked = :t REMOVE #q, enqueuedAt",
                    ConditionExpression="attribute_exists(#c) AND attribute_not_exists(#b)",
                    ExpressionAttributeNames={"#q": "queue", "#c": "claim", "#b": "batch"},
                    ExpressionAttributeValues={":t": {"BOOL": True}},
                    ReturnValues="ALL_NEW",
                )["Attributes"]
            except ClientError as exc:
                if error_code(exc) == CONDITION_FAILED:
                    return Withdrawal("gone")  # settled, or never enqueued
                raise
        flush = item["claim"]["S"]
        # read after the revocation: a push that checked the claim before it recorded its base before it
        with translated(f"dynamodb:GetItem GitOps flush {flush}"):
            record = self._client.get_item(
                TableName=self._table, Key={"ticket": {"S": f"flush#{flush}"}}, ConsistentRead=True
            ).get("Item")
        base = None if record is None or "S" not in record["base"] else record["base"]["S"]
        claimed_at = float(item["claimedAt"]["N"]) if "claimedAt" in item else None
        return Withdrawal("revoked", flush, claimed_at, record is not None, base)

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
