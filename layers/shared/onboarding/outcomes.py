"""The outcome event of a completed lifecycle operation: announced when it completes, and again when that failed."""

from __future__ import annotations

from datetime import datetime

from onboarding.contract.common import ContractModel
from onboarding.contract.lifecycle import Operation, TenantOffboarded, TenantResumed, TenantSuspended, TenantTierChanged
from onboarding.lifecycle_payloads import OperationPlan


def operation_outcome(
    operation: Operation,
    *,
    tenant_id: str,
    operation_id: str,
    plan: OperationPlan,
    git_commit: str,
    name_released_at: datetime | None,
    reconciled_at: datetime | None = None,
    data_retained_until: datetime | None = None,
) -> ContractModel:
    base: dict[str, object] = {
        "tenant_id": tenant_id,
        "signup_id": plan.signup_id,
        "operation_id": operation_id,
        "verified": reconciled_at is not None,
        "reconciled_at": reconciled_at,
    }
    after = plan.after or plan.before
    if operation is Operation.OFFBOARD:
        assert name_released_at is not None, "an offboarding announces when the name is released"
        return TenantOffboarded(
            **base, git_commit=git_commit, name_released_at=name_released_at, data_retained_until=data_retained_until
        )
    if operation is Operation.CHANGE_TIER:
        return TenantTierChanged(
            **base,
            from_tier=plan.before.tier,
            to_tier=after.tier,
            deployment_model=after.deployment_model,
            git_commit=git_commit,
        )
    if operation is Operation.SUSPEND:
        return TenantSuspended(**base, git_commit=git_commit)
    return TenantResumed(**base, git_commit=git_commit)
