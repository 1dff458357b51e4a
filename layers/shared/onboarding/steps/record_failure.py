"""RecordFailure: mark the tenant FAILED with its step and reason, and announce it."""

from __future__ import annotations

from onboarding.contract.signup import OnboardingFailed, TenantOnboarded
from onboarding.errors import TenantConflict
from onboarding.failures import failure_reason, not_undone, timed_out_reason
from onboarding.payloads import RecordFailureInput
from onboarding.ports import Clock, EventPublisher, TenantStore
from onboarding.records import HistoryEntry, TenantRecord, TenantStatus


def record_failure(
    step: RecordFailureInput, *, tenants: TenantStore, publisher: EventPublisher, now: Clock
) -> OnboardingFailed | TenantOnboarded:
    current = tenants.get(step.tenant_id)
    if current is not None and current.execution == step.execution and current.status is TenantStatus.ACTIVE:
        # the tenant is live; what failed was announcing it, so announce it (the execution still fails)
        onboarded = TenantOnboarded(
            tenant_id=step.tenant_id,
            signup_id=step.signup.signup_id,
            tier=current.tier,
            deployment_model=current.deployment_model,
            git_commit=current.git_commit or "",
            chart_version=current.chart_version or "",
            reconciled_at=current.reconciled_at,
            verified=current.reconciled_at is not None,
        )
        publisher.publish([onboarded])
        return onboarded
    at = now()
    reason = failure_reason(step.error)
    if step.failed_step == "AwaitReconcile" and step.error.error == "States.Timeout":
        reason = timed_out_reason(step.tenant_id, "onboard", step.gitops)
    reason += not_undone(step.compensation_error)
    compensated = step.compensation.compensated if step.compensation else False
    entry = HistoryEntry(
        at=at,
        operation="onboard",
        execution=step.execution,
        outcome=TenantStatus.FAILED.value,
        detail=f"{step.failed_step}: {step.error.error}",
    )
    signup = step.signup
    record = TenantRecord.of_signup(
        step.tenant_id,
        signup,
        status=TenantStatus.FAILED,
        execution=step.execution,
        attempt=step.attempt,
        at=at,
        history=[entry],
        failed_step=step.failed_step,
        failure_reason=reason,
    )
    try:
        tenants.mark_failed(record, step.execution, step.failed_step, reason, entry)
    except TenantConflict as exc:
        reason = f"{reason} ({exc})"  # another execution owns the record: leave it, but still announce
    event = OnboardingFailed(
        tenant_id=step.tenant_id,
        signup_id=signup.signup_id,
        failed_step=step.failed_step,
        error=step.error.error,
        cause=reason,
        compensated=compensated,
    )
    publisher.publish([event])
    return event
