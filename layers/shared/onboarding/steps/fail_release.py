"""FailRelease: a release that failed for another reason than Flux's verdict (an error no retry fixed).

Tenants the release still holds (locked by a wave that committed but was not finished) are put back in git on
what their records name, in one commit, and unlocked with the reason in their history: the record and git
agree again. Then its claim is given back (one release at a time must not block forever), the release
parameter goes back to the previous one (chart version, images and version), and ``Fleet Release Halted``
says which error stopped it and which tenants were put back.
"""

from __future__ import annotations

from typing import Any

from onboarding.contract.release import FailedTenant, FleetReleaseHalted
from onboarding.delivery import deliver_remote_tenants
from onboarding.failures import failure_reason
from onboarding.fleet import ReleaseInput, ReleaseState, ReleaseStatus
from onboarding.gitops import apply_files, wave_files
from onboarding.manifests import GitOpsLayout
from onboarding.payloads import StepError
from onboarding.ports import (
    ArtifactsFor,
    Clock,
    EventPublisher,
    GitOpsRepository,
    ReleaseParameter,
    ReleaseStore,
    TenantStore,
)
from onboarding.records import HistoryEntry, TenantRecord
from onboarding.release_images import restore_parameter


def _put_back_by(record: TenantRecord, step: ReleaseInput) -> bool:
    last = record.history[-1] if record.history else None
    return (
        last is not None
        and last.execution == step.execution
        and last.outcome == "FAILED"
        and (last.detail or "").startswith(f"{step.release_id} failed")
    )


def _put_back(
    release: ReleaseState, step: ReleaseInput, reason: str, *, releases: ReleaseStore, tenants: TenantStore,
    repo: GitOpsRepository, layout: GitOpsLayout, artifacts_for: ArtifactsFor | None, now: Clock,
) -> list[str]:  # fmt: skip
    """Every tenant this execution still locks, back on what its record names (one commit per wave)."""
    put_back: list[str] = []
    for plan in release.waves:
        wave = releases.wave(step.release_id, plan.index)
        records = [r for t in wave.members if (r := tenants.get(t)) is not None]
        held = [r for r in records if r.lock and r.lock.execution == step.execution]
        # put back by an earlier attempt of this step whose reply was lost: named, not put back twice
        put_back += [r.tenant_id for r in records if r.lock is None and _put_back_by(r, step)]
        if not held:
            continue
        desired = wave_files(held, {r.tenant_id: r.chart_version or "" for r in held}, layout)
        message = (
            f"Release {step.release_id} failed: wave {plan.name} back ({len(held)} tenants)\n\n"
            f"Release: {step.release_id}\nExecution: {step.execution}\n"
        )
        commit = apply_files(repo, desired, message).commit
        deliver_remote_tenants(artifacts_for, held, desired, commit)
        for record in held:
            entry = HistoryEntry(
                at=now(), operation="release", execution=step.execution, outcome="FAILED",
                detail=f"{step.release_id} failed ({reason[:300]}): kept chart {record.chart_version}",
            )  # fmt: skip
            tenants.release_lock(record.tenant_id, step.execution, entry)
            put_back.append(record.tenant_id)
    return put_back


def fail_release(
    step: ReleaseInput,
    error: StepError,
    *,
    releases: ReleaseStore,
    tenants: TenantStore,
    repo: GitOpsRepository,
    layout: GitOpsLayout,
    artifacts_for: ArtifactsFor | None,
    parameter: ReleaseParameter,
    publisher: EventPublisher,
    now: Clock,
) -> dict[str, Any]:
    reason = f"{error.error}: {failure_reason(error)}"
    release = releases.get(step.release_id)
    put_back: list[str] = []
    if release is not None:
        put_back = _put_back(release, step, reason, releases=releases, tenants=tenants, repo=repo, layout=layout,
                             artifacts_for=artifacts_for, now=now)  # fmt: skip
        restore_parameter(parameter, release)
        releases.save(release.model_copy(update={"status": ReleaseStatus.HALTED}))
    releases.free(step.release_id)
    publisher.publish(
        [
            FleetReleaseHalted(
                release_id=step.release_id,
                wave="(none)",
                failed=[FailedTenant(tenant_id="(release)", reason=reason[:1000])],
                rolled_back=sorted(put_back),
            )
        ]
    )
    return {"status": ReleaseStatus.HALTED.value, "reason": reason, "putBack": len(put_back)}
