"""SBT links (SbtRegistrationsTable): what an SBT request became here, so its outcome can be answered.

A tenant's link lives as long as the table; an operation's expires (``expiresAt``, the table's TTL) after
OPERATION_LINK_DAYS, long after its lifecycle execution ended.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3

from onboarding.adapters.aws import translated
from onboarding.adapters.dynamodb.codec import from_item, to_item
from onboarding.contract.sbt import SbtAction
from onboarding.sbt import SbtLink

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

OPERATION_LINK_DAYS = 30


class DynamoSbtLinks:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self._table = table
        self._client: DynamoDBClient = client or boto3.client("dynamodb")

    def put(self, link: SbtLink) -> None:
        data = link.model_dump(mode="json", by_alias=True, exclude_none=True)
        if link.action is not SbtAction.ONBOARDING:
            data["expiresAt"] = int(link.created_at.timestamp()) + OPERATION_LINK_DAYS * 86400
        with translated(f"dynamodb:PutItem SBT link {link.key}"):
            self._client.put_item(TableName=self._table, Item=to_item(data))

    def get(self, key: str) -> SbtLink | None:
        with translated(f"dynamodb:GetItem SBT link {key}"):
            item = self._client.get_item(TableName=self._table, Key={"key": {"S": key}}, ConsistentRead=True).get(
                "Item"
            )
        if not item:
            return None
        data = from_item(item)
        data.pop("expiresAt", None)
        return SbtLink.model_validate(data)
