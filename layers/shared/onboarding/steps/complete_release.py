"""CompleteRelease: every wave passed; the release is COMPLETED and announced (the parameter already names it)."""

from __future__ import annotations

from typing import Any

from onboarding.contract.release import FleetReleaseCompleted
from onboarding.fleet import ReleaseInput, ReleaseStatus, recorded
from onboarding.ports import EventPublisher, ReleaseStore


def complete_release(step: ReleaseInput, *, releases: ReleaseStore, publisher: EventPublisher) -> dict[str, Any]:
    release = recorded(releases, step.release_id)
    released = sum(len(releases.wave(step.release_id, w.index).succeeded) for w in release.waves)
    releases.save(release.model_copy(update={"status": ReleaseStatus.COMPLETED}))
    releases.free(step.release_id)
    publisher.publish(
        [FleetReleaseCompleted(release_id=step.release_id, chart_version=release.chart_version, tenants=released)]
    )
    return {"status": ReleaseStatus.COMPLETED.value, "tenants": released}
