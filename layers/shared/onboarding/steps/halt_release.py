"""HaltRelease: a wave over its tolerated failures (or an abort) stops the release, and says why.

With ``rollback`` the wave's tenants were put back on their last good version; with ``halt`` they are left
on the new version, which their record then names too. Either way the record and git agree, the release
parameter goes back to the previous chart version, and ``Fleet Release Halted`` carries Flux's reasons.
"""

from __future__ import annotations

from typing import Any

from onboarding.contract.release import FailedTenant, FleetReleaseHalted
from onboarding.fleet import ReleaseStatus, WaveInput, release_and_wave
from onboarding.ports import Clock, EventPublisher, ReleaseParameter, ReleaseStore, TenantStore
from onboarding.records import HistoryEntry
from onboarding.release_images import released_details, restore_parameter

MAX_REPORTED = 50  # failed tenants named in the event (the count is exact in the wave's record)


def halt_release(
    step: WaveInput,
    *,
    releases: ReleaseStore,
    tenants: TenantStore,
    parameter: ReleaseParameter,
    publisher: EventPublisher,
    now: Clock,
    aborted: bool = False,
) -> dict[str, Any]:
    release, wave = release_and_wave(releases, step)
    rolled_back = set(wave.rolled_back)
    failed = {f.tenant_id: f.reason for f in wave.failed}
    if not aborted:
        for tenant_id in wave.members:
            back = tenant_id in rolled_back
            version = wave.previous.get(tenant_id) if back else release.chart_version
            what = "rolled back to" if back else "left on"
            entry = HistoryEntry(
                at=now(),
                operation="release",
                execution=step.execution,
                outcome="HALTED",
                detail=f"{step.release_id} wave {step.wave.name} halted: {what} chart {version}"
                + (f" ({failed[tenant_id]})" if tenant_id in failed else ""),
            )
            details = (
                None
                if back
                else released_details(
                    release, step.release_id, tenants.get(tenant_id) if release.request.images else None
                )
            )
            tenants.release_lock(tenant_id, step.execution, entry, details)
        restore_parameter(parameter, release)
    status = ReleaseStatus.ABORTED if aborted else ReleaseStatus.HALTED
    releases.save(release.model_copy(update={"status": status}))
    releases.free(step.release_id)
    event = FleetReleaseHalted(
        release_id=step.release_id,
        wave=step.wave.name,
        failed=[FailedTenant(tenant_id=t, reason=r) for t, r in list(failed.items())[:MAX_REPORTED]],
        rolled_back=sorted(rolled_back),
    )
    publisher.publish([event])
    return {"status": status.value, "failed": len(failed)}
