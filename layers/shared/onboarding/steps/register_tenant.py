"""RegisterTenant: write the tenant record (status ONBOARDING) and claim its name, atomically."""

from __future__ import annotations

from onboarding.cidrs import claims_of, tenant_conflicts
from onboarding.contract.signup import OnboardingStarted
from onboarding.errors import CidrConflict, TenantConflict
from onboarding.payloads import Registration, StepInput
from onboarding.ports import Clock, EventPublisher, TenantStore
from onboarding.records import HistoryEntry, TenantRecord, TenantStatus


def _started(step: StepInput) -> OnboardingStarted:
    return OnboardingStarted(
        tenant_id=step.tenant_id,
        signup_id=step.signup.signup_id,
        tenant_name=step.signup.tenant_name,
        tier=step.signup.tier,
        deployment_model=step.signup.model,
        execution=step.execution,
        attempt=step.attempt,
    )


def register_tenant(step: StepInput, *, tenants: TenantStore, publisher: EventPublisher, now: Clock) -> Registration:
    signup = step.signup
    at = now()
    existing = tenants.get(step.tenant_id)
    if existing is not None and existing.execution == step.execution:
        if existing.status is TenantStatus.ONBOARDING:  # a retried invocation: the write landed
            publisher.publish([_started(step)])  # its announcement may not have; consumers dedupe
            return Registration(created=False, name_claimed=True, previous_status=None)
        raise TenantConflict(f"tenant {step.tenant_id} is already {existing.status.value} under this execution")
    if existing is not None and (existing.status is not TenantStatus.FAILED or existing.signup_id != signup.signup_id):
        raise TenantConflict(
            f"tenant {step.tenant_id} is {existing.status.value} under execution {existing.execution}; "
            "only a FAILED onboarding of the same signup can be re-driven"
        )
    cidrs = None
    if signup.hybrid is not None:
        # Checked against every registered range that overlaps; the claim is written conditional on none
        # overlapping, so of two concurrent overlapping signups exactly one wins.
        if existing is not None:
            tenants.release_cidrs(step.tenant_id)  # a re-drive: ranges an unfinished compensation left
        cidrs = claims_of(step.tenant_id, signup.hybrid)
        problems = tenant_conflicts(cidrs, tenants.cidr_overlaps(cidrs))
        if problems:
            raise CidrConflict("; ".join(problems))
    entry = HistoryEntry(at=at, operation="onboard", execution=step.execution, outcome=TenantStatus.ONBOARDING.value)
    record = TenantRecord.of_signup(
        step.tenant_id,
        signup,
        status=TenantStatus.ONBOARDING,
        execution=step.execution,
        attempt=step.attempt,
        at=at,
        history=[*(existing.history if existing else []), entry],
        version=1 if existing is None else existing.version + 1,
        created_at=existing.created_at if existing else None,
    )
    tenants.register(record, redrive_of=existing.execution if existing else None, cidrs=cidrs)
    publisher.publish([_started(step)])
    return Registration(
        created=existing is None,
        name_claimed=True,
        previous_status=existing.status if existing else None,
    )
