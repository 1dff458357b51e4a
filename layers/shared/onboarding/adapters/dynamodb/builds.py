"""Pending artifact builds: build id -> the task token of the execution waiting for it (expires after a day)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import boto3

from onboarding.adapters.aws import translated

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoPendingBuilds:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self._table = table
        self._client: DynamoDBClient = client or boto3.client("dynamodb")

    def put(self, build_id: str, task_token: str, tenant_id: str, execution: str) -> None:
        with translated(f"dynamodb:PutItem pending build {build_id}"):
            self._client.put_item(
                TableName=self._table,
                Item={
                    "buildId": {"S": build_id},
                    "taskToken": {"S": task_token},
                    "tenantId": {"S": tenant_id},
                    "execution": {"S": execution},
                    "expiresAt": {"N": str(int(time.time()) + 86400)},
                },
            )

    def get(self, build_id: str) -> Mapping[str, str] | None:
        with translated(f"dynamodb:GetItem pending build {build_id}"):
            item = self._client.get_item(
                TableName=self._table, Key={"buildId": {"S": build_id}}, ConsistentRead=True
            ).get("Item")
        return {k: v["S"] for k, v in item.items() if "S" in v} if item else None

    def remove(self, build_id: str) -> None:
        with translated(f"dynamodb:DeleteItem pending build {build_id}"):
            self._client.delete_item(TableName=self._table, Key={"buildId": {"S": build_id}})
