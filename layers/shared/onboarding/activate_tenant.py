"""ActivateTenant: mark the tenant ACTIVE with its GitOps commit and announce ``Tenant Onboarded``."""

from __future__ import annotations

from onboarding.models import ActivateInput, HistoryEntry, TenantOnboarded, TenantStatus
from onboarding.ports import Clock, EventPublisher, TenantStore


def activate_tenant(step: ActivateInput, *, tenants: TenantStore, publisher: EventPublisher, now: Clock) -> str:
    entry = HistoryEntry(
        at=now(),
        operation="onboard",
        execution=step.execution,
        outcome=TenantStatus.ACTIVE.value,
        detail=step.gitops.commit,
    )
    tenants.activate(step.tenant_id, step.execution, step.gitops.commit, entry, step.hybrid_resources)
    publisher.publish(
        [
            TenantOnboarded(
                tenant_id=step.tenant_id,
                signup_id=step.signup.signup_id,
                tier=step.signup.tier,
                deployment_model=step.signup.model,
                git_commit=step.gitops.commit,
            )
        ]
    )
    return TenantStatus.ACTIVE.value
