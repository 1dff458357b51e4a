"""DynamoDB item encoding and the attributes every tenant-table adapter shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from onboarding.adapters.aws import translated
from onboarding.records import HistoryEntry, TenantRecord, TenantStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_ser = TypeSerializer()
_de = TypeDeserializer()

# Transaction cancellation reasons that mean contention or throttling, not a failed condition.
CONTENTION = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
CONDITION_FAILED = "ConditionalCheckFailedException"
STATUS_INDEX = "StatusIndex"


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in data.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def serialize(value: Any) -> Any:
    return _ser.serialize(value)


def history(entry: HistoryEntry) -> Any:
    """A one-entry list to ``list_append`` to a record's history."""
    return _ser.serialize([entry.model_dump(mode="json", by_alias=True, exclude_none=True)])


def cancellation_reasons(exc: Any) -> list[str | None]:
    return [r.get("Code") for r in exc.response.get("CancellationReasons", [])]


class TenantTables:
    """The tables a tenant-store adapter writes: records, name claims and (hybrid) network claims."""

    def __init__(
        self,
        tenants_table: str,
        names_table: str,
        client: DynamoDBClient | None = None,
        network_table: str | None = None,
    ) -> None:
        self._tenants = tenants_table
        self._names = names_table
        self._network = network_table
        self._client: DynamoDBClient = client or boto3.client("dynamodb")

    def get(self, tenant_id: str) -> TenantRecord | None:
        with translated(f"dynamodb:GetItem {tenant_id}"):
            response = self._client.get_item(
                TableName=self._tenants, Key={"tenantId": {"S": tenant_id}}, ConsistentRead=True
            )
        item = response.get("Item")
        return TenantRecord.model_validate(from_item(item)) if item else None

    def by_status(self, status: TenantStatus) -> list[TenantRecord]:
        """Every tenant in ``status``, by tenant id: a query of StatusIndex, never a scan."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._tenants,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "#status = :status",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":status": {"S": status.value}},
        }
        with translated(f"dynamodb:Query {STATUS_INDEX} {status.value}"):
            while True:
                page = self._client.query(**kwargs)
                items += page.get("Items", [])
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [TenantRecord.model_validate(from_item(item)) for item in items]
