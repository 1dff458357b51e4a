"""RevertGitOps: compensation of a lifecycle operation - put the tenant's GitOps file back as it was."""

from __future__ import annotations

from onboarding.errors import TRANSIENT_ERRORS, OnboardingError
from onboarding.failures import operation_completed
from onboarding.gitops import apply_files, desired_files
from onboarding.manifests import GitOpsLayout
from onboarding.payloads import Compensation, LifecycleFailureInput
from onboarding.ports import GitOpsRepository, TenantStore


def revert_gitops(
    step: LifecycleFailureInput, *, repo: GitOpsRepository, layout: GitOpsLayout, tenants: TenantStore
) -> Compensation:
    if operation_completed(step, tenants.get(step.tenant_id)):
        return Compensation(compensated=False, actions=["the operation completed: GitOps is kept as recorded"])
    if step.plan is None or step.gitops is None:
        return Compensation(compensated=True, actions=["nothing to undo in GitOps"])
    message = (
        f"Revert {step.operation.value} of tenant {step.tenant_id}\n\n"
        f"Operation: {step.operation_id}\nExecution: {step.execution}\n"
    )
    try:
        change = apply_files(repo, desired_files(step.tenant_id, step.plan.before, layout), message)
    except OnboardingError as exc:
        if isinstance(exc, TRANSIENT_ERRORS):
            raise  # the state machine retries the revert, within a bound
        return Compensation(compensated=False, actions=[f"GitOps revert failed: {type(exc).__name__}: {exc}"])
    return Compensation(compensated=True, actions=[f"restored {', '.join(change.paths)} in {change.commit}"])
