"""Tenant records and name claims in DynamoDB. Every write is conditional."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from onboarding.adapters.aws import error_code, translate
from onboarding.cidrs import CidrClaim, CidrRegistry
from onboarding.errors import StorageError, TenantBusy, TenantConflict, TenantNameTaken, TransientError
from onboarding.models import (
    DeploymentModel,
    HistoryEntry,
    OperationLock,
    TenantRecord,
    TenantStatus,
    Tier,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_ser = TypeSerializer()
_de = TypeDeserializer()


def _item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in data.items()}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def _history(entry: HistoryEntry) -> Any:
    return _ser.serialize([entry.model_dump(mode="json", by_alias=True, exclude_none=True)])


CIDR_SCOPE = "hybrid-cidrs"
# Transaction cancellation reasons that mean contention or throttling, not a failed condition.
CONTENTION = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)


class DynamoTenantStore:
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
        self._client = client or boto3.client("dynamodb")

    # ------------------------------------------------------------------ hybrid CIDR registry
    def cidr_registry(self) -> CidrRegistry:
        """All CIDRs held by hybrid tenants, with the version an update must be conditional on."""
        if self._network is None:
            raise StorageError("NETWORK_CLAIMS_TABLE is not configured")
        try:
            item = self._client.get_item(
                TableName=self._network, Key={"scope": {"S": CIDR_SCOPE}}, ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, "dynamodb:GetItem cidr registry") from exc
        if not item:
            return CidrRegistry(version=0, claims=[])
        plain = _plain(item)
        return CidrRegistry(
            version=int(plain["version"]), claims=[CidrClaim.model_validate(c) for c in plain["claims"]]
        )

    def _registry_put(self, registry: CidrRegistry) -> dict[str, Any]:
        claims = [c.model_dump(mode="json", by_alias=True) for c in registry.claims]
        return {
            "Put": {
                "TableName": self._network,
                "Item": _item({"scope": CIDR_SCOPE, "version": registry.version + 1, "claims": claims}),
                "ConditionExpression": "attribute_not_exists(#scope) OR version = :version",
                "ExpressionAttributeNames": {"#scope": "scope"},
                "ExpressionAttributeValues": {":version": {"N": str(registry.version)}},
            }
        }

    def release_cidrs(self, tenant_id: str, attempts: int = 5) -> bool:
        """Remove the tenant's CIDRs from the registry (optimistic, retried on concurrent changes)."""
        for _ in range(attempts):
            registry = self.cidr_registry()
            kept = [c for c in registry.claims if c.tenant_id != tenant_id]
            if len(kept) == len(registry.claims):
                return False
            try:
                self._client.transact_write_items(
                    TransactItems=[self._registry_put(CidrRegistry(version=registry.version, claims=kept))]  # type: ignore[list-item]
                )
                return True
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise translate(exc, f"dynamodb:TransactWriteItems release cidrs of {tenant_id}") from exc
        raise TransientError(f"the CIDR registry kept changing while releasing {tenant_id}")

    def get(self, tenant_id: str) -> TenantRecord | None:
        try:
            response = self._client.get_item(
                TableName=self._tenants, Key={"tenantId": {"S": tenant_id}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"dynamodb:GetItem {tenant_id}") from exc
        item = response.get("Item")
        return TenantRecord.model_validate(_plain(item)) if item else None

    def register(self, record: TenantRecord, *, redrive_of: str | None, cidrs: CidrRegistry | None = None) -> bool:
        if redrive_of is None:
            tenant_condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(tenantId)"}
        else:
            tenant_condition = {
                "ConditionExpression": "#status = :failed AND #execution = :previous",
                "ExpressionAttributeNames": {"#status": "status", "#execution": "execution"},
                "ExpressionAttributeValues": {
                    ":failed": {"S": TenantStatus.FAILED.value},
                    ":previous": {"S": redrive_of},
                },
            }
        claim = {"nameKey": record.name_key, "tenantId": record.tenant_id, "claimedAt": record.updated_at.isoformat()}
        registry_item = [self._registry_put(cidrs)] if cidrs is not None else []
        try:
            self._client.transact_write_items(
                TransactItems=[
                    *registry_item,  # type: ignore[list-item]
                    {"Put": {"TableName": self._tenants, "Item": _item(record.item()), **tenant_condition}},  # type: ignore[typeddict-item]
                    {
                        "Put": {
                            "TableName": self._names,
                            "Item": _item(claim),
                            # free, ours already, or released by an offboarding whose grace period is over
                            "ConditionExpression": "attribute_not_exists(nameKey) OR tenantId = :tenant "
                            "OR releaseAt < :now",
                            "ExpressionAttributeValues": {
                                ":tenant": {"S": record.tenant_id},
                                ":now": {"S": record.updated_at.isoformat()},
                            },
                        }
                    },
                ]
            )
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if any(code in CONTENTION for code in reasons):
                    raise TransientError(f"transaction for {record.tenant_id} lost to a concurrent one") from exc
                if registry_item:
                    if reasons and reasons[0] == "ConditionalCheckFailed":
                        raise TransientError("the CIDR registry changed concurrently; re-checking") from exc
                    reasons = reasons[1:]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    raise TenantConflict(
                        f"tenant {record.tenant_id} already exists and is not a failed onboarding of this signup"
                    ) from exc
                if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    raise TenantNameTaken(
                        f"tenant name {record.tenant_name!r} is already taken by another tenant"
                    ) from exc
            raise translate(exc, f"dynamodb:TransactWriteItems register {record.tenant_id}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"dynamodb:TransactWriteItems register {record.tenant_id}") from exc
        return True

    def release_name(self, name_key: str, tenant_id: str, execution: str) -> bool:
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self._names,
                            "Key": {"nameKey": {"S": name_key}},
                            "ConditionExpression": "tenantId = :tenant",
                            "ExpressionAttributeValues": {":tenant": {"S": tenant_id}},
                        }
                    },
                    {
                        "ConditionCheck": {
                            "TableName": self._tenants,
                            "Key": {"tenantId": {"S": tenant_id}},
                            "ConditionExpression": "#execution = :execution",
                            "ExpressionAttributeNames": {"#execution": "execution"},
                            "ExpressionAttributeValues": {":execution": {"S": execution}},
                        }
                    },
                ]
            )
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if any(code in CONTENTION for code in reasons):
                    raise TransientError(f"releasing the name of {tenant_id} lost to a concurrent write") from exc
                return False  # not ours (a condition failed): nothing to release
            raise translate(exc, f"dynamodb:TransactWriteItems release name of {tenant_id}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"dynamodb:TransactWriteItems release name of {tenant_id}") from exc
        return True

    def _update(self, tenant_id: str, execution: str, expression: str, condition: str, values: dict[str, Any]) -> bool:
        try:
            self._client.update_item(
                TableName=self._tenants,
                Key={"tenantId": {"S": tenant_id}},
                UpdateExpression=expression,
                ConditionExpression=f"#execution = :execution AND ({condition})",
                ExpressionAttributeNames={"#status": "status", "#execution": "execution"},
                ExpressionAttributeValues={":execution": {"S": execution}, ":one": {"N": "1"}, **values},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise translate(exc, f"dynamodb:UpdateItem {tenant_id}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"dynamodb:UpdateItem {tenant_id}") from exc
        return True

    def activate(
        self,
        tenant_id: str,
        execution: str,
        git_commit: str,
        entry: HistoryEntry,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        values: dict[str, Any] = {
            ":active": {"S": TenantStatus.ACTIVE.value},
            ":onboarding": {"S": TenantStatus.ONBOARDING.value},
            ":commit": {"S": git_commit},
            ":at": {"S": entry.at.isoformat()},
            ":entry": _history(entry),
        }
        extra = ""
        for i, (key, value) in enumerate(sorted((details or {}).items())):
            extra += f", {key} = :detail{i}"  # keys are fixed attribute names chosen by the domain
            values[f":detail{i}"] = _ser.serialize(value)
        done = self._update(
            tenant_id,
            execution,
            "SET #status = :active, gitCommit = :commit, updatedAt = :at, "
            f"history = list_append(history, :entry), version = version + :one{extra} REMOVE failedStep, failureReason",
            "#status = :onboarding",
            values,
        )
        if not done:
            current = self.get(tenant_id)
            if current and current.execution == execution and current.status is TenantStatus.ACTIVE:
                return  # a retried invocation: already active under this execution
            state = f"{current.status.value} under {current.execution}" if current else "missing"
            raise TenantConflict(f"tenant {tenant_id} cannot be activated by {execution}: it is {state}")

    def mark_failed(
        self, record: TenantRecord, execution: str, step: str, reason: str, entry: HistoryEntry
    ) -> TenantRecord:
        done = self._update(
            record.tenant_id,
            execution,
            "SET #status = :failed, failedStep = :step, failureReason = :reason, updatedAt = :at, "
            "history = list_append(history, :entry), version = version + :one",
            "#status IN (:onboarding, :failed)",
            {
                ":failed": {"S": TenantStatus.FAILED.value},
                ":onboarding": {"S": TenantStatus.ONBOARDING.value},
                ":step": {"S": step},
                ":reason": {"S": reason},
                ":at": {"S": entry.at.isoformat()},
                ":entry": _history(entry),
            },
        )
        if done:
            current = self.get(record.tenant_id)
            assert current is not None
            return current
        # Registration never wrote the record (e.g. the name was taken): write it now, as FAILED.
        try:
            self._client.put_item(
                TableName=self._tenants,
                Item=_item(record.item()),
                ConditionExpression="attribute_not_exists(tenantId)",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                if self._record_failed_redrive(record, execution, step, reason, entry):
                    return record
                raise TenantConflict(
                    f"tenant {record.tenant_id} belongs to another execution; its record was left untouched"
                ) from exc
            raise translate(exc, f"dynamodb:PutItem {record.tenant_id}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"dynamodb:PutItem {record.tenant_id}") from exc
        return record

    def _record_failed_redrive(
        self, record: TenantRecord, execution: str, step: str, reason: str, entry: HistoryEntry
    ) -> bool:
        """A re-drive that failed before registering still takes its attempt, so the next one can start."""
        try:
            self._client.update_item(
                TableName=self._tenants,
                Key={"tenantId": {"S": record.tenant_id}},
                UpdateExpression="SET #execution = :execution, attempts = :attempt, failedStep = :step, "
                "failureReason = :reason, updatedAt = :at, history = list_append(history, :entry), "
                "version = version + :one",
                ConditionExpression="#status = :failed AND attempts < :attempt",
                ExpressionAttributeNames={"#status": "status", "#execution": "execution"},
                ExpressionAttributeValues={
                    ":execution": {"S": execution},
                    ":attempt": {"N": str(record.attempts)},
                    ":step": {"S": step},
                    ":reason": {"S": reason},
                    ":at": {"S": entry.at.isoformat()},
                    ":entry": _history(entry),
                    ":failed": {"S": TenantStatus.FAILED.value},
                    ":one": {"N": "1"},
                },
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise translate(exc, f"dynamodb:UpdateItem {record.tenant_id}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"dynamodb:UpdateItem {record.tenant_id}") from exc
        return True

    # ------------------------------------------------------------------ lifecycle operations
    def acquire_lock(self, record: TenantRecord, lock: OperationLock) -> None:
        try:
            self._client.update_item(
                TableName=self._tenants,
                Key={"tenantId": {"S": record.tenant_id}},
                UpdateExpression="SET #lock = :lock, version = version + :one",
                # free, or held past its lease by an execution that was stopped
                ConditionExpression="version = :version AND (attribute_not_exists(#lock) OR #lock.expiresAt < :now)",
                ExpressionAttributeNames={"#lock": "lock"},
                ExpressionAttributeValues={
                    ":lock": _ser.serialize(lock.model_dump(mode="json", by_alias=True)),
                    ":version": {"N": str(record.version)},
                    ":now": {"S": lock.at.isoformat()},
                    ":one": {"N": "1"},
                },
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                current = self.get(record.tenant_id)
                holder = current.lock if current else None
                what = f"{holder.operation} {holder.operation_id} ({holder.execution})" if holder else "a change"
                raise TenantBusy(f"tenant {record.tenant_id} is busy with {what}") from exc
            raise translate(exc, f"dynamodb:UpdateItem lock {record.tenant_id}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"dynamodb:UpdateItem lock {record.tenant_id}") from exc

    def finish_operation(
        self,
        tenant_id: str,
        execution: str,
        *,
        status: TenantStatus,
        tier: Tier,
        deployment_model: DeploymentModel,
        git_commit: str,
        offboarded_at: datetime | None,
        entry: HistoryEntry,
    ) -> None:
        values: dict[str, Any] = {
            ":status": {"S": status.value},
            ":tier": {"S": tier.value},
            ":model": {"S": deployment_model.value},
            ":commit": {"S": git_commit},
            ":at": {"S": entry.at.isoformat()},
            ":entry": _history(entry),
            ":execution": {"S": execution},
            ":one": {"N": "1"},
        }
        expression = (
            "SET #status = :status, tier = :tier, deploymentModel = :model, gitCommit = :commit, updatedAt = :at, "
            "history = list_append(history, :entry), version = version + :one"
        )
        if offboarded_at is not None:
            expression += ", offboardedAt = :offboarded"
            values[":offboarded"] = {"S": offboarded_at.isoformat()}
        try:
            self._client.update_item(
                TableName=self._tenants,
                Key={"tenantId": {"S": tenant_id}},
                UpdateExpression=expression + " REMOVE #lock",
                ConditionExpression="#lock.execution = :execution",
                ExpressionAttributeNames={"#status": "status", "#lock": "lock"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                current = self.get(tenant_id)
                if current and current.lock is None and current.history and current.history[-1].execution == execution:
                    return  # a retried invocation: already finished
                raise TenantConflict(f"{execution} does not hold the lock of tenant {tenant_id}") from exc
            raise translate(exc, f"dynamodb:UpdateItem finish {tenant_id}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"dynamodb:UpdateItem finish {tenant_id}") from exc

    def release_lock(self, tenant_id: str, execution: str, entry: HistoryEntry) -> bool:
        try:
            self._client.update_item(
                TableName=self._tenants,
                Key={"tenantId": {"S": tenant_id}},
                UpdateExpression="SET history = list_append(history, :entry), updatedAt = :at, "
                "version = version + :one REMOVE #lock",
                ConditionExpression="#lock.execution = :execution",
                ExpressionAttributeNames={"#lock": "lock"},
                ExpressionAttributeValues={
                    ":entry": _history(entry),
                    ":at": {"S": entry.at.isoformat()},
                    ":execution": {"S": execution},
                    ":one": {"N": "1"},
                },
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise translate(exc, f"dynamodb:UpdateItem unlock {tenant_id}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"dynamodb:UpdateItem unlock {tenant_id}") from exc
        return True

    def schedule_name_release(self, name_key: str, tenant_id: str, release_at: datetime) -> bool:
        try:
            self._client.update_item(
                TableName=self._names,
                Key={"nameKey": {"S": name_key}},
                UpdateExpression="SET releaseAt = :at, expiresAt = :epoch",
                ConditionExpression="tenantId = :tenant",
                ExpressionAttributeValues={
                    ":at": {"S": release_at.isoformat()},
                    ":epoch": {"N": str(int(release_at.timestamp()))},
                    ":tenant": {"S": tenant_id},
                },
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise translate(exc, f"dynamodb:UpdateItem name release {tenant_id}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"dynamodb:UpdateItem name release {tenant_id}") from exc
        return True
