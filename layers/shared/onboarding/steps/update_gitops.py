"""UpdateGitOps: make the tenant's GitOps file match the planned state, in a single commit.

A pooled <-> siloed move rewrites one file, so there is never a moment with both placements or
neither; offboarding deletes the file and Flux prunes what it described.
"""

from __future__ import annotations

from onboarding.batch_queue import GitOpsWriter, ticket
from onboarding.delivery import deliver
from onboarding.gitops import apply_files, desired_files
from onboarding.lifecycle_payloads import LifecycleStepInput, OperationPlan
from onboarding.manifests import GitOpsLayout, remote_path
from onboarding.payloads import GitOpsChange
from onboarding.ports import ArtifactRegistry, GitOpsRepository


def describe(plan: OperationPlan) -> str:
    if plan.after is None:
        return "Offboard"
    if plan.after.tier is not plan.before.tier:
        return (
            f"Change tier {plan.before.tier.value} -> {plan.after.tier.value} ({plan.after.deployment_model.value}) of"
        )
    return "Suspend" if plan.after.suspended else "Resume"


def update_gitops(
    step: LifecycleStepInput,
    *,
    repo: GitOpsRepository,
    layout: GitOpsLayout,
    artifacts: ArtifactRegistry | None = None,
    writer: GitOpsWriter | None = None,
) -> GitOpsChange:
    message = (
        f"{describe(step.plan)} tenant {step.tenant_id}\n\n"
        f"Operation: {step.operation.value} {step.operation_id}\nExecution: {step.execution}\n"
    )
    desired = desired_files(step.tenant_id, step.plan.after, layout)
    if writer is None:
        change = apply_files(repo, desired, message)
    else:  # group commit: the change may share its commit with other tenants' (onboarding.batching)
        change = writer.write(ticket(step.tenant_id, step.execution), step.tenant_id, desired, message)
    if artifacts is not None:  # a remote tenant: its cluster reads the new state from its own ECR
        deliver(artifacts, step.tenant_id, desired.get(remote_path(step.tenant_id)), change.commit)
    return change
