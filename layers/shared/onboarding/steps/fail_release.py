"""FailRelease: a release that failed for another reason than Flux's verdict (an error no retry fixed).

Its claim is given back (one release at a time must not block forever), the release parameter goes back to
the previous chart version, and ``Fleet Release Halted`` says which error stopped it. Tenants still locked
by the release keep the lease it took, which the next operation takes over once it expires.
"""

from __future__ import annotations

from typing import Any

from onboarding.contract.release import FailedTenant, FleetReleaseHalted
from onboarding.failures import failure_reason
from onboarding.fleet import ReleaseInput, ReleaseStatus
from onboarding.payloads import StepError
from onboarding.ports import EventPublisher, ReleaseParameter, ReleaseStore


def fail_release(
    step: ReleaseInput,
    error: StepError,
    *,
    releases: ReleaseStore,
    parameter: ReleaseParameter,
    publisher: EventPublisher,
) -> dict[str, Any]:
    release = releases.get(step.release_id)
    if release is not None:
        if release.previous_chart_version:
            current = parameter.read()
            parameter.write(current.model_copy(update={"chart_version": release.previous_chart_version}))
        releases.save(release.model_copy(update={"status": ReleaseStatus.HALTED}))
    releases.free(step.release_id)
    reason = f"{error.error}: {failure_reason(error)}"
    publisher.publish(
        [
            FleetReleaseHalted(
                release_id=step.release_id,
                wave="(none)",
                failed=[FailedTenant(tenant_id="(release)", reason=reason[:1000])],
                rolled_back=[],
            )
        ]
    )
    return {"status": ReleaseStatus.HALTED.value, "reason": reason}
