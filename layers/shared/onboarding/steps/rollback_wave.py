"""RollbackWave: a failed wave's tenants back on their last good version, in ONE commit; Flux judges it too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from onboarding.delivery import deliver_remote_tenants
from onboarding.fleet import WaveInput
from onboarding.gitops import apply_files, wave_files
from onboarding.manifests import GitOpsLayout
from onboarding.ports import ArtifactsFor, Clock, GitOpsRepository, ReleaseStore, TenantStore


def rollback_wave(
    step: WaveInput,
    *,
    releases: ReleaseStore,
    tenants: TenantStore,
    repo: GitOpsRepository,
    layout: GitOpsLayout,
    artifacts_for: ArtifactsFor | None,
    timeout_seconds: int,
    poll_seconds: int,
    now: Clock,
) -> dict[str, Any]:
    wave = releases.wave(step.release_id, step.wave.index)
    records = [r for t in wave.members if (r := tenants.get(t)) is not None]
    # the record names the version the tenant ran before until FinishWave or HaltRelease moves it
    versions = {r.tenant_id: wave.previous.get(r.tenant_id) or r.chart_version or "" for r in records}
    desired = wave_files(records, versions, layout)
    message = (
        f"Release {step.release_id}: roll wave {step.wave.name} back ({len(records)} tenants)\n\n"
        f"Release: {step.release_id}\nExecution: {step.execution}\n"
    )
    # kept before the push: when it was sent (Flux's verdicts on it come after), so a retry whose earlier push
    # landed still counts a verdict that arrived in between
    rolled_back = [r.tenant_id for r in records]
    again = wave.rolled_back == rolled_back and wave.committed_at is not None  # an earlier attempt kept them
    committed_at = wave.committed_at if again and wave.committed_at is not None else now()
    wave = wave.model_copy(
        update={
            "rolled_back": rolled_back,
            "committed_at": committed_at,
            "deadline": committed_at + timedelta(seconds=timeout_seconds),
        }
    )
    releases.save_wave(step.release_id, wave)
    change = apply_files(repo, desired, message)
    deliver_remote_tenants(artifacts_for, records, desired, change.commit)
    return {"commit": change.commit, "tenants": len(records), "waitSeconds": poll_seconds}
