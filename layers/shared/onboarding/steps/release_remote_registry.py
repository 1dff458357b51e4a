"""ReleaseRemoteRegistry: an offboarded remote tenant's ECR repositories, kept or deleted by the retention setting."""

from __future__ import annotations

from onboarding.delivery import chart_repository, manifests_repository
from onboarding.errors import InvalidSignup
from onboarding.lifecycle_payloads import LifecycleStepInput
from onboarding.payloads import Compensation
from onboarding.ports import TenantAccounts
from onboarding.remote import RegistryFactory, repository_name, role_arn

RETAIN, DELETE = "retain", "delete"


def release_remote_registry(
    step: LifecycleStepInput, *, accounts: TenantAccounts, registry_for: RegistryFactory, retention: str
) -> Compensation:
    plan = step.plan
    names = [repository_name(step.tenant_id, image.name) for image in plan.before.images]
    if names:  # the chart and the manifests artifact go with the images (after the customer's Flux pruned)
        names += [chart_repository(step.tenant_id), manifests_repository(step.tenant_id)]
    if retention == RETAIN or not names:
        return Compensation(compensated=True, actions=[f"kept repositories {', '.join(names)} (retention: retain)"])
    if plan.aws_account_id is None or plan.region is None:
        raise InvalidSignup("a remote tenant's plan carries its account and region")
    credentials = accounts.assume(
        role_arn(plan.aws_account_id, step.tenant_id), step.tenant_id, f"offboard-{step.tenant_id}"[:64]
    )
    registry = registry_for(credentials, plan.region)
    deleted = [name for name in names if registry.delete(name)]
    return Compensation(compensated=True, actions=[f"deleted repositories {', '.join(deleted)}"])
