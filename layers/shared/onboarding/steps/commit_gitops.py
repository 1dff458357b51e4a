"""CommitGitOps: write the tenant's manifests to the GitOps repository, exactly once.

Re-applying is a no-op when the files already hold the desired content (no second commit). A push
rejected because the branch moved is fetched again, re-applied and retried with full jitter, within
a bound; past the bound the state machine's own Retry takes over (GitOpsConflict is transient).
"""

from __future__ import annotations

from onboarding.batch_queue import GitOpsWriter, ticket
from onboarding.delivery import deliver
from onboarding.gitops import apply_files
from onboarding.manifests import GitOpsLayout, remote_path, tenant_files, tenant_paths
from onboarding.payloads import StepInput, TenantCommit
from onboarding.ports import ArtifactRegistry, GitOpsRepository
from onboarding.records import Release


def commit_gitops(
    step: StepInput,
    *,
    repo: GitOpsRepository,
    layout: GitOpsLayout,
    release: Release,
    artifacts: ArtifactRegistry | None = None,
    writer: GitOpsWriter | None = None,
) -> TenantCommit:
    spec = step.spec(release)
    files = tenant_files(spec, layout)
    message = (
        f"Onboard tenant {step.tenant_id} ({step.signup.tier.value}, {step.signup.model.value})\n\n"
        f"Chart: {spec.chart_version}\nRelease: {release.version}\nExecution: {step.execution}\n"
    )
    # every other path the tenant may own is absent (a re-driven tenant may have changed model)
    desired: dict[str, bytes | None] = {**dict.fromkeys(tenant_paths(step.tenant_id)), **files}
    if writer is None:
        change = apply_files(repo, desired, message)
    else:  # group commit: the change may share its commit with other tenants' (onboarding.batching)
        change = writer.write(ticket(step.tenant_id, step.execution), step.tenant_id, desired, message)
    if artifacts is not None:  # a remote tenant: its own cluster reads its manifests from its own ECR
        deliver(artifacts, step.tenant_id, desired.get(remote_path(step.tenant_id)), change.commit)
    return TenantCommit(
        **change.model_dump(),
        chart_version=release.chart_version,
        release_version=release.version,
        images=list(spec.images),
    )
