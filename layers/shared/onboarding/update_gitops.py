"""UpdateGitOps: make the tenant's GitOps file match the planned state, in a single commit.

A pooled <-> siloed move rewrites one file, so there is never a moment with both placements or
neither; offboarding deletes the file and Flux prunes what it described.
"""

from __future__ import annotations

from onboarding.commit_gitops import apply_files
from onboarding.manifests import GitOpsLayout, tenant_files, tenant_paths
from onboarding.models import GitOpsChange, LifecycleStepInput, OperationPlan, TenantSpec
from onboarding.ports import GitOpsRepository


def desired_files(tenant_id: str, spec: TenantSpec | None, layout: GitOpsLayout) -> dict[str, bytes | None]:
    """Every path the tenant may own: its rendered content, or None (absent)."""
    files: dict[str, bytes | None] = dict.fromkeys(tenant_paths(tenant_id))
    if spec is not None:
        files.update(tenant_files(spec, layout))
    return files


def describe(plan: OperationPlan) -> str:
    if plan.after is None:
        return "Offboard"
    if plan.after.tier is not plan.before.tier:
        return (
            f"Change tier {plan.before.tier.value} -> {plan.after.tier.value} ({plan.after.deployment_model.value}) of"
        )
    return "Suspend" if plan.after.suspended else "Resume"


def update_gitops(step: LifecycleStepInput, *, repo: GitOpsRepository, layout: GitOpsLayout) -> GitOpsChange:
    message = (
        f"{describe(step.plan)} tenant {step.tenant_id}\n\n"
        f"Operation: {step.operation.value} {step.operation_id}\nExecution: {step.execution}\n"
    )
    return apply_files(repo, desired_files(step.tenant_id, step.plan.after, layout), message)
