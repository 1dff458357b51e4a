"""FailOperation: a lifecycle operation failed halfway - release the lock, keep the history, announce it."""

from __future__ import annotations

from datetime import timedelta

from onboarding.contract.lifecycle import OperationFailed
from onboarding.failures import failure_reason, not_undone, operation_completed, timed_out_reason
from onboarding.lifecycle_payloads import LifecycleFailureInput
from onboarding.outcomes import operation_outcome
from onboarding.ports import Clock, EventPublisher, TenantStore
from onboarding.records import HistoryEntry

# Run after CompleteOperation recorded the tenant OFFBOARDED: their failure leaves the record and GitOps as they are.
RELEASE_STEPS = frozenset({"ReleaseHybridActivation", "ReleaseRemoteRegistry"})


def fail_operation(
    step: LifecycleFailureInput,
    *,
    tenants: TenantStore,
    publisher: EventPublisher,
    now: Clock,
    name_release_after: timedelta,
) -> OperationFailed:
    reason = failure_reason(step.error)
    if step.failed_step == "AwaitReconcile" and step.error.error == "States.Timeout":
        reason = timed_out_reason(step.tenant_id, step.operation.value, step.gitops)
    reason += not_undone(step.compensation_error)
    record = tenants.get(step.tenant_id)
    done = operation_completed(step, record)
    left_behind = done and step.failed_step in RELEASE_STEPS
    if left_behind:
        # recorded and announced; what the model provisioned could not all be released: say so, never "compensated"
        reason = f"the operation completed and was announced, but releasing the tenant's resources failed: {reason}"
    elif done:
        # the new state is recorded and GitOps holds it; only the announcement failed: do not call it failed
        reason = f"the operation completed, but announcing it failed: {reason}"
    entry = HistoryEntry(
        at=now(),
        operation=step.operation.value,
        execution=step.execution,
        outcome="FAILED",
        detail=f"{step.failed_step}: {step.error.error}: {reason}"[:500],
    )
    if not done:
        tenants.release_lock(step.tenant_id, step.execution, entry)  # the tenant keeps its status from before
    event = OperationFailed(
        tenant_id=step.tenant_id,
        signup_id=step.plan.signup_id if step.plan else None,
        operation_id=step.operation_id,
        operation=step.operation,
        failed_step=step.failed_step,
        error=step.error.error,
        cause=reason,
        compensated=bool(step.compensation and step.compensation.compensated) and not left_behind,
    )
    if not done or left_behind:
        publisher.publish([event])
    elif record is not None and step.plan is not None:
        # the operation completed and only its announcement failed: announce the outcome again
        released = record.offboarded_at + name_release_after if record.offboarded_at else None
        publisher.publish(
            [
                operation_outcome(
                    step.operation,
                    tenant_id=step.tenant_id,
                    operation_id=step.operation_id,
                    plan=step.plan,
                    git_commit=record.git_commit or "",
                    name_released_at=released,
                    data_retained_until=record.data_retained_until,
                )
            ]
        )
    return event
