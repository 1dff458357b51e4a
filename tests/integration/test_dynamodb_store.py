"""The DynamoDB tenant store against moto, with tables built from template.yaml's own definitions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from onboarding.adapters.dynamodb import DynamoTenantStore
from onboarding.errors import TenantConflict, TenantNameTaken
from onboarding.identity import name_key
from onboarding.records import HistoryEntry, TenantRecord, TenantStatus
from tests.utils.moto_aws import create_template_table, mocked_aws

AT = datetime(2026, 11, 24, tzinfo=UTC)


@pytest.fixture
def store() -> Iterator[DynamoTenantStore]:
    with mocked_aws("us-east-1"):
        client = boto3.client("dynamodb", region_name="us-east-1")
        for logical in ("TenantsTable", "TenantNamesTable"):
            create_template_table(client, logical)
        yield DynamoTenantStore("TenantsTable", "TenantNamesTable", client=client)


def record(tenant_id: str = "t-a", name: str = "Acme", execution: str = "t-a", **extra: Any) -> TenantRecord:
    return TenantRecord.model_validate(
        {
            "tenantId": tenant_id,
            "signupId": tenant_id,
            "tenantName": name,
            "nameKey": name_key(name),
            "adminEmail": "a@b.example",
            "tier": "basic",
            "deploymentModel": "pooled",
            "status": "ONBOARDING",
            "execution": execution,
            "createdAt": AT,
            "updatedAt": AT,
            "history": [{"at": AT, "operation": "onboard", "execution": execution, "outcome": "ONBOARDING"}],
            **extra,
        }
    )


def entry(outcome: str, execution: str = "t-a") -> HistoryEntry:
    return HistoryEntry(at=AT, operation="onboard", execution=execution, outcome=outcome)


def test_register_then_read_back(store: DynamoTenantStore) -> None:
    store.register(record(), redrive_of=None)
    got = store.get("t-a")
    assert got == record()


def test_register_twice_is_a_conflict(store: DynamoTenantStore) -> None:
    store.register(record(), redrive_of=None)
    with pytest.raises(TenantConflict):
        store.register(record(), redrive_of=None)


def test_names_are_unique_accent_and_case_insensitively(store: DynamoTenantStore) -> None:
    store.register(record(name="Café Ltd"), redrive_of=None)
    with pytest.raises(TenantNameTaken):
        store.register(record("t-b", name="CAFE ltd", execution="t-b"), redrive_of=None)
    assert store.get("t-b") is None


def test_activate_is_conditional_on_the_owning_execution(store: DynamoTenantStore) -> None:
    store.register(record(), redrive_of=None)
    with pytest.raises(TenantConflict):
        store.activate("t-a", "someone-else", "abc", entry("ACTIVE", "someone-else"))
    store.activate("t-a", "t-a", "abc", entry("ACTIVE"))
    store.activate("t-a", "t-a", "abc", entry("ACTIVE"))  # a retry is harmless
    got = store.get("t-a")
    assert got is not None and got.status is TenantStatus.ACTIVE and got.git_commit == "abc" and got.version == 2
    assert [h.outcome for h in got.history] == ["ONBOARDING", "ACTIVE"]


def test_mark_failed_creates_the_record_when_registration_never_wrote_it(store: DynamoTenantStore) -> None:
    failed = record(status="FAILED", failedStep="RegisterTenant", failureReason="taken")
    store.mark_failed(failed, "t-a", "RegisterTenant", "taken", entry("FAILED"))
    assert store.get("t-a") == failed


def test_mark_failed_never_touches_a_record_owned_by_another_execution(store: DynamoTenantStore) -> None:
    store.register(record(), redrive_of=None)
    store.activate("t-a", "t-a", "abc", entry("ACTIVE"))
    before = store.get("t-a")
    with pytest.raises(TenantConflict):
        store.mark_failed(record(execution="other"), "other", "RegisterTenant", "x", entry("FAILED", "other"))
    assert store.get("t-a") == before


def test_release_name_only_by_the_owning_execution_and_redrive(store: DynamoTenantStore) -> None:
    store.register(record(), redrive_of=None)
    assert not store.release_name(name_key("Acme"), "t-a", "other-execution")
    store.mark_failed(record(), "t-a", "CommitGitOps", "down", entry("FAILED"))
    assert store.release_name(name_key("Acme"), "t-a", "t-a")
    store.register(record("t-b", name="acme", execution="t-b"), redrive_of=None)  # the name is free again
    with pytest.raises(TenantNameTaken):
        store.register(record(execution="t-a-a2", attempts=2), redrive_of="t-a")
    store.register(record(name="Acme Two", execution="t-a-a2", attempts=2), redrive_of="t-a")
    got = store.get("t-a")
    assert got is not None and got.status is TenantStatus.ONBOARDING and got.execution == "t-a-a2"


def test_a_lock_is_exclusive_until_its_lease_expires(store: DynamoTenantStore) -> None:
    from datetime import timedelta

    from onboarding.errors import TenantBusy
    from onboarding.records import OperationLock

    store.register(record(), redrive_of=None)
    first = OperationLock(
        operation="suspend", operation_id="o-1", execution="op-1", at=AT, expires_at=AT + timedelta(hours=1)
    )
    store.acquire_lock(store.get("t-a"), first)  # type: ignore[arg-type]
    early = OperationLock(operation="offboard", operation_id="o-2", execution="op-2", at=AT + timedelta(minutes=5))
    with pytest.raises(TenantBusy, match="suspend o-1"):
        store.acquire_lock(store.get("t-a"), early)  # type: ignore[arg-type]
    late = OperationLock(operation="offboard", operation_id="o-3", execution="op-3", at=AT + timedelta(hours=2))
    store.acquire_lock(store.get("t-a"), late)  # type: ignore[arg-type]
    got = store.get("t-a")
    assert got is not None and got.lock is not None and got.lock.execution == "op-3"


def test_the_fleet_by_status_is_a_query_of_the_status_index(store: DynamoTenantStore) -> None:
    for i in range(3):
        store.register(record(f"t-{i}", f"Acme {i}", f"t-{i}"), redrive_of=None)
    store.mark_failed(record("t-1", "Acme 1", "t-1"), "t-1", "CommitGitOps", "boom", entry("FAILED", "t-1"))
    assert [r.tenant_id for r in store.by_status(TenantStatus.ONBOARDING)] == ["t-0", "t-2"]
    assert [(r.tenant_id, r.failed_step) for r in store.by_status(TenantStatus.FAILED)] == [("t-1", "CommitGitOps")]
    assert store.by_status(TenantStatus.ACTIVE) == []
