"""Tenant records in DynamoDB. Every write is conditional: on the owning execution, the status or the version."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from onboarding.adapters.aws import error_code, translated
from onboarding.adapters.dynamodb.claims import ClaimsAdapter
from onboarding.adapters.dynamodb.codec import (
    CONDITION_FAILED,
    CONTENTION,
    cancellation_reasons,
    history,
    serialize,
    to_item,
)
from onboarding.adapters.dynamodb.locks import LocksAdapter
from onboarding.cidrs import CidrClaim
from onboarding.errors import TenantConflict, TenantNameTaken, TenantNotFound, TransientError
from onboarding.records import HistoryEntry, TenantRecord, TenantStatus


class DynamoTenantStore(ClaimsAdapter, LocksAdapter):
    def register(
        self, record: TenantRecord, *, redrive_of: str | None, cidrs: Sequence[CidrClaim] | None = None
    ) -> bool:
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
        cidr_items = self._claim_items(record.tenant_id, cidrs) if cidrs else []
        with translated(f"dynamodb:TransactWriteItems register {record.tenant_id}"):
            try:
                self._client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": self._tenants, "Item": to_item(record.item()), **tenant_condition}},  # type: ignore[typeddict-item]
                        {
                            "Put": {
                                "TableName": self._names,
                                "Item": to_item(claim),
                                # free, ours already, or released by an offboarding whose grace period is over
                                "ConditionExpression": "attribute_not_exists(nameKey) OR tenantId = :tenant "
                                "OR releaseAt < :now",
                                "ExpressionAttributeValues": {
                                    ":tenant": {"S": record.tenant_id},
                                    ":now": {"S": record.updated_at.isoformat()},
                                },
                            }
                        },
                        *cidr_items,  # type: ignore[list-item]
                    ]
                )
            except ClientError as exc:
                if error_code(exc) == "TransactionCanceledException":
                    reasons = cancellation_reasons(exc)
                    if any(code in CONTENTION for code in reasons):
                        raise TransientError(f"transaction for {record.tenant_id} lost to a concurrent one") from exc
                    if cidr_items and reasons[-1:] == ["ConditionalCheckFailed"]:
                        raise TransientError(
                            "the CIDR registry is still the single legacy item: run its migration "
                            "(docs/production-path.md, hybrid CIDR registry)"
                        ) from exc
                    if "ConditionalCheckFailed" in reasons[2:]:
                        raise TransientError("the CIDR registry changed concurrently; re-checking") from exc
                    if reasons and reasons[0] == "ConditionalCheckFailed":
                        raise TenantConflict(
                            f"tenant {record.tenant_id} already exists and is not a failed onboarding of this signup"
                        ) from exc
                    if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                        raise TenantNameTaken(
                            f"tenant name {record.tenant_name!r} is already taken by another tenant"
                        ) from exc
                raise
        return True

    def _update(self, tenant_id: str, execution: str, expression: str, condition: str, values: dict[str, Any]) -> bool:
        with translated(f"dynamodb:UpdateItem {tenant_id}"):
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
                if error_code(exc) == CONDITION_FAILED:
                    return False
                raise
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
            ":entry": history(entry),
        }
        extra = ""
        for i, (key, value) in enumerate(sorted((details or {}).items())):
            extra += f", {key} = :detail{i}"  # keys are fixed attribute names chosen by the domain
            values[f":detail{i}"] = serialize(value)
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
            if current is None:
                raise TenantNotFound(f"tenant {tenant_id} has no record to activate")
            state = f"{current.status.value} under {current.execution}"
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
                ":entry": history(entry),
            },
        )
        if done:
            current = self.get(record.tenant_id)
            assert current is not None
            return current
        # Registration never wrote the record (e.g. the name was taken): write it now, as FAILED.
        with translated(f"dynamodb:PutItem {record.tenant_id}"):
            try:
                self._client.put_item(
                    TableName=self._tenants,
                    Item=to_item(record.item()),
                    ConditionExpression="attribute_not_exists(tenantId)",
                )
            except ClientError as exc:
                if error_code(exc) == CONDITION_FAILED:
                    if self._record_failed_redrive(record, execution, step, reason, entry):
                        return record
                    raise TenantConflict(
                        f"tenant {record.tenant_id} belongs to another execution; its record was left untouched"
                    ) from exc
                raise
        return record

    def _record_failed_redrive(
        self, record: TenantRecord, execution: str, step: str, reason: str, entry: HistoryEntry
    ) -> bool:
        """A re-drive that failed before registering still takes its attempt, so the next one can start."""
        with translated(f"dynamodb:UpdateItem {record.tenant_id}"):
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
                        ":entry": history(entry),
                        ":failed": {"S": TenantStatus.FAILED.value},
                        ":one": {"N": "1"},
                    },
                )
            except ClientError as exc:
                if error_code(exc) == CONDITION_FAILED:
                    return False
                raise
        return True
