"""CommitWave: the wave's tenants locked and moved to the release's chart version, in ONE GitOps commit.

A tenant busy with a lifecycle operation, or still onboarding, is deferred: the release comes back for it in
its last wave, "(deferred)", and what is still busy then is left on its version and reported. An offboarded
or failed tenant has left the fleet and is not moved; one onboarded on the release meanwhile runs it already. A
remote tenant whose images did not arrive in its ECR is not moved either (the wave counts it as failed).
The commit message names the release. With images, each tenant runs the release's images (remote tenants
their own copies). Remote tenants get their new manifests in their own ECR too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from onboarding.delivery import deliver_remote_tenants
from onboarding.errors import TenantBusy
from onboarding.fleet import DEFERRED_WAVE, WaveInput, recorded
from onboarding.gitops import apply_files, wave_files
from onboarding.manifests import GitOpsLayout
from onboarding.ports import ArtifactsFor, ChartCopier, Clock, GitOpsRepository, ReleaseStore, TenantStore
from onboarding.records import OperationLock, TenantRecord, TenantStatus
from onboarding.release_images import tenant_images

LOCK_LEASE = timedelta(hours=6)  # longer than any wave waits (its verdicts, bake and approval)
LEFT_THE_FLEET = frozenset({TenantStatus.OFFBOARDED, TenantStatus.FAILED})


def commit_wave(
    step: WaveInput,
    *,
    releases: ReleaseStore,
    tenants: TenantStore,
    repo: GitOpsRepository,
    layout: GitOpsLayout,
    artifacts_for: ArtifactsFor | None,
    copy_chart: ChartCopier | None = None,
    timeout_seconds: int,
    poll_seconds: int,
    now: Clock,
) -> dict[str, Any]:
    release = recorded(releases, step.release_id)
    if release.aborted:  # Fleet Release Aborted arrived: no further wave starts
        return {"aborted": True, "commit": None, "tenants": 0, "deferred": 0, "waitSeconds": poll_seconds}
    wave = releases.wave(step.release_id, step.wave.index)
    new = release.release if release.request.images else None
    moving: list[TenantRecord] = []
    deferred: list[str] = []
    previous: dict[str, str] = dict(wave.previous)
    not_copied = {f.tenant_id for f in wave.copy_failed}
    for tenant_id in wave.members:
        record = tenants.get(tenant_id)
        if tenant_id in not_copied or record is None or record.status in LEFT_THE_FLEET:
            continue  # images that never arrived fail the wave; an offboarded or failed tenant left the fleet
        if record.lock is not None and record.lock.execution == step.execution:
            # a retried invocation: the lock is already ours, and the record still names the version before
            previous.setdefault(tenant_id, record.chart_version or release.previous_chart_version or "")
            moving.append(record)
            continue
        if record.status is TenantStatus.ONBOARDING:
            deferred.append(tenant_id)  # its own execution writes its files: the release comes back for it
            continue
        if record.chart_version == release.chart_version and (
            new is None or record.images == list(tenant_images(record, new))
        ):
            continue  # onboarded on the release meanwhile: it runs it already
        at = now()
        lock = OperationLock(
            operation="release", operation_id=step.release_id, execution=step.execution, at=at,
            expires_at=at + LOCK_LEASE,
        )  # fmt: skip
        try:
            tenants.acquire_lock(record, lock)
        except TenantBusy:
            deferred.append(tenant_id)
            continue
        previous.setdefault(tenant_id, record.chart_version or release.previous_chart_version or "")
        moving.append(record)
    last = release.waves[-1] if release.waves else None
    if deferred and last is not None and last.name == DEFERRED_WAVE and last.index != step.wave.index:
        final = releases.wave(step.release_id, last.index)  # the release comes back for them after its last wave
        added = [t for t in deferred if t not in final.members]  # a retried invocation added them already
        if added:
            releases.save_wave(step.release_id, final.model_copy(update={"members": [*final.members, *added]}))
    # before the push: when it was sent (Flux's verdicts on it come after; the receiver stamps them alike), and
    # which tenants it moves from which version. A retry whose earlier push landed keeps that time: a verdict
    # that arrived in between still counts, and a rollback knows every tenant's previous version.
    committed_at = wave.committed_at or now()  # only an earlier attempt of this step sets it
    wave = wave.model_copy(
        update={
            "members": [r.tenant_id for r in moving],
            "previous": previous,
            "deferred": sorted(set(wave.deferred) | set(deferred)),
            "committed_at": committed_at,
            "deadline": committed_at + timedelta(seconds=timeout_seconds),
        }
    )
    if moving:
        releases.save_wave(step.release_id, wave)
    if copy_chart is not None:  # remote tenants pull the chart from their own ECR: it goes there first
        for record in moving:
            if record.aws_account_id and record.region:
                copy_chart(record.aws_account_id, record.region, record.tenant_id, release.chart_version)
    versions = {r.tenant_id: release.chart_version for r in moving}
    images = {r.tenant_id: tenant_images(r, new) for r in moving} if new is not None else None
    desired = wave_files(moving, versions, layout, images, new.version if new is not None else None)
    message = (
        f"Release {step.release_id}: wave {step.wave.name} to chart {release.chart_version} "
        f"({len(moving)} tenants)\n\nRelease: {step.release_id}\nExecution: {step.execution}\n"
    )
    commit = None
    if moving:  # a wave left with nobody to move (all deferred, gone or there already) commits nothing
        commit = apply_files(repo, desired, message).commit
        deliver_remote_tenants(artifacts_for, moving, desired, commit)
    releases.save_wave(step.release_id, wave.model_copy(update={"commit": commit}))
    return {
        "aborted": False,
        "commit": commit,
        "tenants": len(moving),
        "deferred": len(deferred),
        "waitSeconds": poll_seconds,
    }
