"""Tenant Offboarded says until when the tenant's data is kept (dataRetainedUntil), as the record does."""

from __future__ import annotations

import json
from datetime import timedelta

from onboarding.contract.lifecycle import Operation, TenantOffboarded
from onboarding.lifecycle_payloads import CompleteOperationInput, LifecycleFailureInput
from onboarding.schemas import contract_schemas
from onboarding.steps.complete_operation import complete_operation
from onboarding.steps.fail_operation import fail_operation
from onboarding.steps.start_operation import start_operation
from tests.unit.test_lifecycle_steps import AT, active_tenant, now, req
from tests.utils.fakes import InMemoryTenantStore, RecordingPublisher

RETAIN = timedelta(days=45)
NAME_RELEASE = timedelta(days=30)


def offboard(store: InMemoryTenantStore, publisher: RecordingPublisher) -> tuple[str, dict[str, object]]:
    tenant_id = active_tenant(store)
    request = req(tenant_id, Operation.OFFBOARD)
    plan = start_operation(request, tenants=store, now=now)
    state = {**request.wire(), "plan": plan.wire(), "gitops": {"commit": "c1", "changed": True, "paths": []}}
    complete_operation(
        CompleteOperationInput.model_validate(state),
        tenants=store,
        publisher=publisher,
        now=now,
        name_release_after=NAME_RELEASE,
        data_retention=RETAIN,
    )
    return tenant_id, state


def test_the_offboarded_event_carries_the_records_data_retention_date_on_the_wire() -> None:
    # Given an active tenant, When it is offboarded with a 45-day retention
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    tenant_id, _ = offboard(store, publisher)
    # Then the event and the record say the same date: offboardedAt + DataRetentionDays
    (event,) = publisher.of(TenantOffboarded)
    record = store.records[tenant_id]
    assert record.data_retained_until == AT + RETAIN
    assert event.data_retained_until == record.data_retained_until
    wire = json.loads(event.model_dump_json(by_alias=True))
    assert wire["dataRetainedUntil"] == (AT + RETAIN).isoformat().replace("+00:00", "Z")
    assert wire["nameReleasedAt"] == (AT + NAME_RELEASE).isoformat().replace("+00:00", "Z")


def test_an_offboarding_announced_again_after_a_failed_announcement_carries_the_date_too() -> None:
    # Given an offboarding that completed (record OFFBOARDED), When CompleteOperation's announcement failed
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    tenant_id, state = offboard(store, publisher)
    failure = LifecycleFailureInput.model_validate(
        {**state, "failedStep": "CompleteOperation", "error": {"Error": "EventPublishFailed"}}
    )
    fail_operation(failure, tenants=store, publisher=publisher, now=now, name_release_after=NAME_RELEASE)
    # Then FailOperation announces Tenant Offboarded again, with the record's date
    first, again = publisher.of(TenantOffboarded)
    assert again.data_retained_until == first.data_retained_until == store.records[tenant_id].data_retained_until


def test_the_published_schema_has_data_retained_until_as_a_date_time() -> None:
    schema = contract_schemas()["tenant-offboarded.json"]
    field = schema["properties"]["dataRetainedUntil"]
    assert {"format": "date-time", "type": "string"} in field["anyOf"]
    assert "dataRetainedUntil" not in schema["required"]  # additive: events published before it still validate
