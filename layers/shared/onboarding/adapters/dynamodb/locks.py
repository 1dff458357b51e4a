"""The per-tenant lock of lifecycle operations, and applying an operation's outcome."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from onboarding.adapters.aws import error_code, translated
from onboarding.adapters.dynamodb.codec import CONDITION_FAILED, TenantTables, history, serialize
from onboarding.contract.common import DeploymentModel, Tier
from onboarding.errors import TenantBusy, TenantConflict
from onboarding.records import HistoryEntry, OperationLock, TenantRecord, TenantStatus


class LocksAdapter(TenantTables):
    def acquire_lock(self, record: TenantRecord, lock: OperationLock) -> None:
        with translated(f"dynamodb:UpdateItem lock {record.tenant_id}"):
            try:
                self._client.update_item(
                    TableName=self._tenants,
                    Key={"tenantId": {"S": record.tenant_id}},
                    UpdateExpression="SET #lock = :lock, version = version + :one",
                    # free, or held past its lease by an execution that was stopped
                    ConditionExpression="version = :version AND "
                    "(attribute_not_exists(#lock) OR #lock.expiresAt < :now)",
                    ExpressionAttributeNames={"#lock": "lock"},
                    ExpressionAttributeValues={
                        ":lock": serialize(lock.model_dump(mode="json", by_alias=True)),
                        ":version": {"N": str(record.version)},
                        ":now": {"S": lock.at.isoformat()},
                        ":one": {"N": "1"},
                    },
                )
            except ClientError as exc:
                if error_code(exc) == CONDITION_FAILED:
                    current = self.get(record.tenant_id)
                    holder = current.lock if current else None
                    what = f"{holder.operation} {holder.operation_id} ({holder.execution})" if holder else "a change"
                    raise TenantBusy(f"tenant {record.tenant_id} is busy with {what}") from exc
                raise

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
        data_retained_until: datetime | None = None,
    ) -> None:
        values: dict[str, Any] = {
            ":status": {"S": status.value},
            ":tier": {"S": tier.value},
            ":model": {"S": deployment_model.value},
            ":commit": {"S": git_commit},
            ":at": {"S": entry.at.isoformat()},
            ":entry": history(entry),
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
        if data_retained_until is not None:
            expression += ", dataRetainedUntil = :retained"
            values[":retained"] = {"S": data_retained_until.isoformat()}
        with translated(f"dynamodb:UpdateItem finish {tenant_id}"):
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
                if error_code(exc) == CONDITION_FAILED:
                    current = self.get(tenant_id)
                    if (
                        current
                        and current.lock is None
                        and current.history
                        and current.history[-1].execution == execution
                    ):
                        return  # a retried invocation: already finished
                    raise TenantConflict(f"{execution} does not hold the lock of tenant {tenant_id}") from exc
                raise

    def release_lock(
        self, tenant_id: str, execution: str, entry: HistoryEntry, details: Mapping[str, Any] | None = None
    ) -> bool:
        values: dict[str, Any] = {
            ":entry": history(entry),
            ":at": {"S": entry.at.isoformat()},
            ":execution": {"S": execution},
            ":one": {"N": "1"},
        }
        extra = ""
        for i, (key, value) in enumerate(sorted((details or {}).items())):
            extra += f", {key} = :detail{i}"  # keys are fixed attribute names chosen by the domain
            values[f":detail{i}"] = serialize(value)
        with translated(f"dynamodb:UpdateItem unlock {tenant_id}"):
            try:
                self._client.update_item(
                    TableName=self._tenants,
                    Key={"tenantId": {"S": tenant_id}},
                    UpdateExpression="SET history = list_append(history, :entry), updatedAt = :at, "
                    f"version = version + :one{extra} REMOVE #lock",
                    ConditionExpression="#lock.execution = :execution",
                    ExpressionAttributeNames={"#lock": "lock"},
                    ExpressionAttributeValues=values,
                )
            except ClientError as exc:
                if error_code(exc) == CONDITION_FAILED:
                    return False
                raise
        return True
