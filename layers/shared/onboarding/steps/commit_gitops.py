"""CommitGitOps: write the tenant's manifests to the GitOps repository, exactly once.

Re-applying is a no-op when the files already hold the desired content (no second commit). A push
rejected because the branch moved is fetched again, re-applied and retried with full jitter, within
a bound; past the bound the state machine's own Retry takes over (GitOpsConflict is transient).
"""

from __future__ import annotations

from onboarding.gitops import apply_files
from onboarding.manifests import GitOpsLayout, tenant_files, tenant_paths
from onboarding.payloads import GitOpsChange, StepInput
from onboarding.ports import GitOpsRepository


def commit_gitops(step: StepInput, *, repo: GitOpsRepository, layout: GitOpsLayout) -> GitOpsChange:
    files = tenant_files(step.spec, layout)
    message = (
        f"Onboard tenant {step.tenant_id} ({step.signup.tier.value}, {step.signup.model.value})\n\n"
        f"Execution: {step.execution}\n"
    )
    # every other path the tenant may own is absent (a re-driven tenant may have changed model)
    desired: dict[str, bytes | None] = {**dict.fromkeys(tenant_paths(step.tenant_id)), **files}
    return apply_files(repo, desired, message)
