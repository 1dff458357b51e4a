"""RevertGitOps: compensation of a lifecycle operation - put the tenant's GitOps file back as it was."""

from __future__ import annotations

from onboarding.delivery import deliver
from onboarding.errors import TRANSIENT_ERRORS, OnboardingError
from onboarding.failures import operation_completed
from onboarding.gitops import apply_files, desired_files
from onboarding.lifecycle_payloads import LifecycleFailureInput
from onboarding.manifests import GitOpsLayout, remote_path
from onboarding.payloads import Compensation
from onboarding.ports import ArtifactRegistry, GitOpsRepository, TenantStore


def _may_have_pushed(step: LifecycleFailureInput) -> bool:
    """UpdateGitOps may have pushed even when it failed: a lost reply or a timeout after the push landed."""
    if step.gitops is not None:
        return True
    return step.failed_step == "UpdateGitOps" and step.error.error != "GitRemoteUnavailable"


def revert_gitops(
    step: LifecycleFailureInput,
    *,
    repo: GitOpsRepository,
    layout: GitOpsLayout,
    tenants: TenantStore,
    artifacts: ArtifactRegistry | None = None,
) -> Compensation:
    if operation_completed(step, tenants.get(step.tenant_id)):
        return Compensation(compensated=False, actions=["the operation completed: GitOps is kept as recorded"])
    if step.plan is None or not _may_have_pushed(step):
        return Compensation(compensated=True, actions=["nothing to undo in GitOps"])
    message = (
        f"Revert {step.operation.value} of tenant {step.tenant_id}\n\n"
        f"Operation: {step.operation_id}\nExecution: {step.execution}\n"
    )
    desired = desired_files(step.tenant_id, step.plan.before, layout)
    try:
        change = apply_files(repo, desired, message)  # idempotent: restores the file whether or not it moved
        if artifacts is not None:  # a remote tenant's cluster gets its previous state back too
            deliver(artifacts, step.tenant_id, desired.get(remote_path(step.tenant_id)), change.commit)
    except OnboardingError as exc:
        if isinstance(exc, TRANSIENT_ERRORS):
            raise  # the state machine retries the revert, within a bound
        return Compensation(compensated=False, actions=[f"GitOps revert failed: {type(exc).__name__}: {exc}"])
    return Compensation(compensated=True, actions=[f"restored {', '.join(change.paths)} in {change.commit}"])
