"""CompleteRelease: every wave passed; the release is COMPLETED and announced (the parameter already names it).

Tenants still busy with a lifecycle operation (or still onboarding) when the release came back for them in
its "(deferred)" wave stay on their version, and the announcement names them.
"""

from __future__ import annotations

from typing import Any

from onboarding.contract.release import FleetReleaseCompleted
from onboarding.fleet import DEFERRED_WAVE, ReleaseInput, ReleaseStatus, recorded
from onboarding.ports import EventPublisher, ReleaseStore


def complete_release(step: ReleaseInput, *, releases: ReleaseStore, publisher: EventPublisher) -> dict[str, Any]:
    release = recorded(releases, step.release_id)
    waves = [releases.wave(step.release_id, w.index) for w in release.waves]
    released = sum(len(wave.succeeded) for wave in waves)
    busy = sorted(waves[-1].deferred) if waves and waves[-1].name == DEFERRED_WAVE else []  # still busy at the end
    releases.save(release.model_copy(update={"status": ReleaseStatus.COMPLETED}))
    releases.free(step.release_id)
    publisher.publish(
        [
            FleetReleaseCompleted(
                release_id=step.release_id, chart_version=release.chart_version, tenants=released, deferred=busy
            )
        ]
    )
    return {"status": ReleaseStatus.COMPLETED.value, "tenants": released}
