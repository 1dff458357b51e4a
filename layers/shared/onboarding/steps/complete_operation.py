"""CompleteOperation: record the tenant's new state, release its lock, and announce the outcome."""

from __future__ import annotations

from datetime import timedelta

from onboarding.contract.common import ContractModel
from onboarding.contract.lifecycle import Operation
from onboarding.identity import name_key
from onboarding.lifecycle_payloads import CompleteOperationInput
from onboarding.outcomes import operation_outcome
from onboarding.ports import Clock, EventPublisher, TenantStore
from onboarding.records import HistoryEntry


def complete_operation(
    step: CompleteOperationInput,
    *,
    tenants: TenantStore,
    publisher: EventPublisher,
    now: Clock,
    name_release_after: timedelta,
    data_retention: timedelta,
) -> ContractModel:
    at = now()
    plan = step.plan
    reconciled_at = step.reconcile.reconciled_at if step.reconcile else None
    commit = step.gitops.commit
    entry = HistoryEntry(
        at=at,
        operation=step.operation.value,
        execution=step.execution,
        outcome=plan.to_status.value,
        detail=f"{step.operation_id} {commit}: "
        + (
            f"Flux {step.reconcile.reason} at {reconciled_at.isoformat()}"
            if step.reconcile and reconciled_at
            else "committed, not verified by Flux"
        ),
    )
    after = plan.after or plan.before
    retained_until = at + data_retention if plan.after is None else None  # offboarded: the data is kept until then
    tenants.finish_operation(
        step.tenant_id,
        step.execution,
        status=plan.to_status,
        tier=after.tier,
        deployment_model=after.deployment_model,
        git_commit=commit,
        offboarded_at=at if plan.after is None else None,
        data_retained_until=retained_until,
        entry=entry,
    )
    release_at = None
    if step.operation is Operation.OFFBOARD:
        release_at = at + name_release_after
        tenants.schedule_name_release(name_key(plan.before.tenant_name), step.tenant_id, release_at)
    event = operation_outcome(
        step.operation,
        tenant_id=step.tenant_id,
        operation_id=step.operation_id,
        plan=plan,
        git_commit=commit,
        name_released_at=release_at,
        reconciled_at=reconciled_at,
        data_retained_until=retained_until,
    )
    publisher.publish([event])
    return event
