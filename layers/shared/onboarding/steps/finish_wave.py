"""FinishWave: a wave within its tolerated failures is recorded (chartVersion, releaseId, history) and announced.

Tolerated failures go back to their previous version in one commit, so no tenant is left on a version that
neither its record nor git names. An abort requested meanwhile stops the release here, after this wave.
"""

from __future__ import annotations

from typing import Any

from onboarding.contract.release import FleetReleaseWaveCompleted
from onboarding.fleet import DEFERRED_WAVE, WaveInput, release_and_wave
from onboarding.gitops import apply_files, wave_files
from onboarding.manifests import GitOpsLayout
from onboarding.ports import Clock, EventPublisher, GitOpsRepository, ReleaseStore, TenantStore
from onboarding.records import HistoryEntry
from onboarding.release_images import released_details


def finish_wave(
    step: WaveInput,
    *,
    releases: ReleaseStore,
    tenants: TenantStore,
    repo: GitOpsRepository,
    layout: GitOpsLayout,
    publisher: EventPublisher,
    now: Clock,
) -> dict[str, Any]:
    release, wave = release_and_wave(releases, step)
    failed = {f.tenant_id: f.reason for f in wave.failed}
    moved_and_failed = [t for t in failed if t in wave.previous and t in set(wave.members)]
    if moved_and_failed:  # tenants whose images never arrived were not moved: nothing to put back
        records = [r for t in moved_and_failed if (r := tenants.get(t)) is not None]
        desired = wave_files(records, {r.tenant_id: wave.previous[r.tenant_id] for r in records}, layout)
        message = f"Release {step.release_id}: {len(records)} tolerated failures of wave {step.wave.name} back\n"
        apply_files(repo, desired, message + f"\nRelease: {step.release_id}\nExecution: {step.execution}\n")
    for tenant_id in wave.members:
        ok = tenant_id not in failed
        entry = HistoryEntry(
            at=now(),
            operation="release",
            execution=step.execution,
            outcome="RELEASED" if ok else "FAILED",
            detail=f"{step.release_id} wave {step.wave.name}: chart "
            + (release.chart_version if ok else f"{release.chart_version} failed ({failed.get(tenant_id)}), kept "
               f"{wave.previous.get(tenant_id)}"),
        )  # fmt: skip
        details = (
            released_details(release, step.release_id, tenants.get(tenant_id) if release.request.images else None)
            if ok
            else None
        )
        tenants.release_lock(tenant_id, step.execution, entry, details)
    if wave.members or failed or step.wave.name != DEFERRED_WAVE:  # an empty "(deferred)" wave is not news
        completed = FleetReleaseWaveCompleted(
            release_id=step.release_id, wave=step.wave.name, succeeded=len(wave.succeeded), failed=len(failed)
        )
        publisher.publish([completed])
    current = releases.get(step.release_id)
    return {"aborted": bool(current and current.aborted), "bakeSeconds": step.wave.bake_seconds}
