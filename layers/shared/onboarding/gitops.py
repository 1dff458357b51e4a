"""Writing the GitOps branch: make it hold the desired files with at most one new commit.

A push rejected because the branch moved is fetched again, re-applied and retried with full jitter,
within a bound; past the bound the state machine's own Retry takes over (GitOpsConflict is transient).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from onboarding.errors import BranchMoved, GitOpsConflict
from onboarding.manifests import GitOpsLayout, tenant_files, tenant_paths
from onboarding.payloads import GitOpsChange
from onboarding.ports import GitOpsRepository
from onboarding.records import ImageRef, TenantRecord, TenantSpec

MAX_PUSH_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0


def apply_files(
    repo: GitOpsRepository,
    desired: Mapping[str, bytes | None],
    message: str,
    *,
    attempts: int = MAX_PUSH_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> GitOpsChange:
    """Make the branch hold ``desired`` (None = absent) with at most one new commit."""
    rng = rng or random.Random()
    for attempt in range(attempts):
        snapshot = repo.snapshot(list(desired))
        changes = {path: content for path, content in desired.items() if snapshot.files.get(path) != content}
        if not changes:
            return GitOpsChange(commit=snapshot.sha or "", changed=False, paths=sorted(desired))
        pushing_at = datetime.now(UTC)  # before the push: Flux's verdict on it can only come after this
        try:
            sha = repo.commit(snapshot.sha, changes, message)
        except BranchMoved:
            sleep(rng.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)))
            continue
        return GitOpsChange(commit=sha, changed=True, paths=sorted(changes), committed_at=pushing_at)
    raise GitOpsConflict(f"the GitOps branch moved on each of {attempts} push attempts")


def desired_files(tenant_id: str, spec: TenantSpec | None, layout: GitOpsLayout) -> dict[str, bytes | None]:
    """Every path the tenant may own: its rendered content, or None (absent)."""
    files: dict[str, bytes | None] = dict.fromkeys(tenant_paths(tenant_id))
    if spec is not None:
        files.update(tenant_files(spec, layout))
    return files


def wave_files(
    records: list[TenantRecord],
    versions: Mapping[str, str],
    layout: GitOpsLayout,
    images: Mapping[str, tuple[ImageRef, ...]] | None = None,
    release_version: str | None = None,
) -> dict[str, bytes | None]:
    """Every file of these tenants, each at the chart version ``versions`` names (and the images ``images``
    names, of ``release_version``; else its own): ONE commit for the wave."""
    desired: dict[str, bytes | None] = {}
    for record in records:
        update: dict[str, object] = {"chart_version": versions[record.tenant_id]}
        if images is not None and record.tenant_id in images:
            update["images"] = images[record.tenant_id]
            update["release_version"] = release_version or record.release_version
        spec = record.spec.model_copy(update=update)
        desired.update(desired_files(record.tenant_id, spec, layout))
    return desired
