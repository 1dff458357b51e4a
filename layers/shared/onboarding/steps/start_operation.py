"""StartOperation: check the operation against the tenant, take the tenant's lock, and plan the change."""

from __future__ import annotations

from datetime import timedelta

from onboarding.contract.common import DEFAULT_MODEL_BY_TIER, DeploymentModel, Tier
from onboarding.contract.lifecycle import Operation
from onboarding.errors import OperationRejected, TenantNotFound
from onboarding.lifecycle_payloads import LifecycleRequestInput, OperationPlan
from onboarding.ports import Clock, TenantStore
from onboarding.records import OperationLock, TenantRecord, TenantStatus

# Far longer than any operation runs (its retries included); a lock older than this was left by an
# execution that was stopped, and the next operation takes it over instead of waiting forever.
LOCK_LEASE = timedelta(hours=1)

ALLOWED_FROM: dict[Operation, frozenset[TenantStatus]] = {
    Operation.OFFBOARD: frozenset({TenantStatus.ACTIVE, TenantStatus.SUSPENDED}),
    Operation.CHANGE_TIER: frozenset({TenantStatus.ACTIVE, TenantStatus.SUSPENDED}),
    Operation.SUSPEND: frozenset({TenantStatus.ACTIVE}),
    Operation.RESUME: frozenset({TenantStatus.SUSPENDED}),
}


def plan_operation(step: LifecycleRequestInput, record: TenantRecord) -> OperationPlan:
    """The validated transition, or OperationRejected naming why it is not allowed."""
    allowed = ALLOWED_FROM[step.operation]
    if record.status not in allowed:
        wanted = " or ".join(sorted(s.value for s in allowed))
        raise OperationRejected(
            f"tenant {record.tenant_id} is {record.status.value}; "
            f"{step.operation.value} needs a tenant that is {wanted}"
        )
    before = record.spec
    to_status = record.status
    after = before
    if step.operation is Operation.OFFBOARD:
        return OperationPlan(
            operation=step.operation,
            signup_id=record.signup_id,
            from_status=record.status,
            to_status=TenantStatus.OFFBOARDED,
            before=before,
            after=None,
            aws_account_id=record.aws_account_id,
            region=record.region,
        )
    if step.operation is Operation.CHANGE_TIER:
        if step.to_tier is None:
            raise OperationRejected("a tier change needs the target tier")
        if step.to_tier is record.tier:
            raise OperationRejected(f"tenant {record.tenant_id} is already on tier {record.tier.value}")
        model = record.deployment_model
        if model in (DeploymentModel.POOLED, DeploymentModel.SILOED):
            model = DEFAULT_MODEL_BY_TIER[step.to_tier]  # remote and hybrid tenants keep their placement
        if model is not record.deployment_model and step.data_plan is None:
            raise OperationRejected(_needs_data_plan(record, step.to_tier, model))
        after = before.model_copy(update={"tier": step.to_tier, "deployment_model": model})
    elif step.operation is Operation.SUSPEND:
        after, to_status = before.model_copy(update={"suspended": True}), TenantStatus.SUSPENDED
    elif step.operation is Operation.RESUME:
        after, to_status = before.model_copy(update={"suspended": False}), TenantStatus.ACTIVE
    return OperationPlan(
        operation=step.operation,
        signup_id=record.signup_id,
        from_status=record.status,
        to_status=to_status,
        before=before,
        after=after,
        aws_account_id=record.aws_account_id,  # remote tenants: where their registry and manifests live
        region=record.region,
    )


def _needs_data_plan(record: TenantRecord, tier: Tier, to: DeploymentModel) -> str:
    """Why a move between placements without a data plan is refused: the old placement's data stays behind."""
    return (
        f"tier {tier.value} moves tenant {record.tenant_id} from the {record.deployment_model.value} to the "
        f"{to.value} placement, and its data does not move with it: the request must say what happens to it "
        "with dataPlan: keep (the old placement's data is kept), migrate (kept, and the move is recorded as "
        "needing a data migration) or discard (the old placement's data may be deleted)"
    )


def start_operation(step: LifecycleRequestInput, *, tenants: TenantStore, now: Clock) -> OperationPlan:
    record = tenants.get(step.tenant_id)
    if record is None:
        raise TenantNotFound(f"unknown tenant {step.tenant_id}")
    if record.lock is not None and record.lock.execution == step.execution:
        return plan_operation(step, record)  # a retried invocation: the lock is already ours
    plan = plan_operation(step, record)
    at = now()
    lock = OperationLock(
        operation=step.operation.value,
        operation_id=step.operation_id,
        execution=step.execution,
        at=at,
        expires_at=at + LOCK_LEASE,
    )
    tenants.acquire_lock(record, lock)  # TenantBusy while another operation holds it (or the record moved)
    return plan
