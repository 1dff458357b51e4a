"""Flux's verdicts and the waiting execution, per tenant (ReconcileTable: tenantId + key, with a TTL)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from onboarding.adapters.aws import error_code, translated
from onboarding.adapters.dynamodb.codec import CONDITION_FAILED, from_item, to_item
from onboarding.reconcile import ReconcileWaiter, Verdict

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

VERDICT, WAITER = "verdict#", "waiter"
RETENTION_SECONDS = 7 * 86400


class DynamoReconcileStore:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self._table = table
        self._client: DynamoDBClient = client or boto3.client("dynamodb")

    def _put(self, item: dict[str, Any], what: str) -> None:
        with translated(f"dynamodb:PutItem {what}"):
            self._client.put_item(
                TableName=self._table, Item=to_item({**item, "expiresAt": int(time.time()) + RETENTION_SECONDS})
            )

    def put_verdict(self, verdict: Verdict) -> None:
        # the key sorts by time; the reason keeps two verdicts of one instant apart
        key = f"{VERDICT}{verdict.at.isoformat()}#{verdict.reason}"
        self._put({"tenantId": verdict.tenant_id, "key": key, **verdict.model_dump(mode="json")}, "verdict")

    def verdicts_since(self, tenant_id: str, since: datetime | None) -> list[Verdict]:
        start = f"{VERDICT}{since.isoformat()}" if since else VERDICT
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "tenantId = :t AND #k BETWEEN :from AND :to",
            "ExpressionAttributeNames": {"#k": "key"},
            "ExpressionAttributeValues": {":t": {"S": tenant_id}, ":from": {"S": start}, ":to": {"S": VERDICT + "~"}},
            "ConsistentRead": True,
        }
        with translated(f"dynamodb:Query verdicts of {tenant_id}"):
            while True:
                page = self._client.query(**kwargs)
                items += page.get("Items", [])
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [Verdict.model_validate(from_item(item)) for item in items]

    def put_waiter(self, waiter: ReconcileWaiter) -> None:
        self._put({"tenantId": waiter.tenant_id, "key": WAITER, **waiter.model_dump(mode="json")}, "waiter")

    def waiter(self, tenant_id: str) -> ReconcileWaiter | None:
        with translated(f"dynamodb:GetItem waiter of {tenant_id}"):
            item = self._client.get_item(
                TableName=self._table,
                Key={"tenantId": {"S": tenant_id}, "key": {"S": WAITER}},
                ConsistentRead=True,
            ).get("Item")
        return ReconcileWaiter.model_validate(from_item(item)) if item else None

    def remove_waiter(self, tenant_id: str, task_token: str) -> None:
        with translated(f"dynamodb:DeleteItem waiter of {tenant_id}"):
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key={"tenantId": {"S": tenant_id}, "key": {"S": WAITER}},
                    ConditionExpression="task_token = :token",
                    ExpressionAttributeValues={":token": {"S": task_token}},
                )
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise
