"""ActivateTenant: mark the tenant ACTIVE with its GitOps commit and announce ``Tenant Onboarded``."""

from __future__ import annotations

from onboarding.contract.signup import TenantOnboarded
from onboarding.payloads import ActivateInput
from onboarding.ports import Clock, EventPublisher, TenantStore
from onboarding.records import HistoryEntry, TenantStatus


def activate_tenant(step: ActivateInput, *, tenants: TenantStore, publisher: EventPublisher, now: Clock) -> str:
    reconciled_at = step.reconcile.reconciled_at if step.reconcile else None
    verdict = (
        f"Flux {step.reconcile.reason} at {reconciled_at.isoformat()}"
        if step.reconcile and reconciled_at
        else ("committed, not verified by Flux")
    )
    entry = HistoryEntry(
        at=now(),
        operation="onboard",
        execution=step.execution,
        outcome=TenantStatus.ACTIVE.value,
        detail=f"{step.gitops.commit} chart {step.gitops.chart_version}: {verdict}",
    )
    details: dict[str, object] = {}
    if step.hybrid_resources is not None:
        details["hybridResources"] = step.hybrid_resources.model_dump(mode="json", by_alias=True)
    details["images"] = [image.model_dump(mode="json", by_alias=True) for image in step.gitops.images]
    details["releaseVersion"] = step.gitops.release_version
    details["chartVersion"] = step.gitops.chart_version
    if step.reconcile is not None and reconciled_at is not None:  # JSON as every other record time is
        details["reconciledAt"] = step.reconcile.model_dump(mode="json", by_alias=True)["reconciledAt"]
    tenants.activate(step.tenant_id, step.execution, step.gitops.commit, entry, details)
    publisher.publish(
        [
            TenantOnboarded(
                tenant_id=step.tenant_id,
                signup_id=step.signup.signup_id,
                tier=step.signup.tier,
                deployment_model=step.signup.model,
                git_commit=step.gitops.commit,
                chart_version=step.gitops.chart_version,
                reconciled_at=reconciled_at,
                verified=reconciled_at is not None,
            )
        ]
    )
    return TenantStatus.ACTIVE.value
