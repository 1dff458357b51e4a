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
from onboarding.failures import failure_reason
from onboarding.fleet import ReleaseInput, ReleaseStatus
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
from onboarding.release_ended import put_back_held
from onboarding.release_images import restore_parameter


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
        put_back = put_back_held(release, step.execution, reason, releases=releases, tenants=tenants, repo=repo,
                                 layout=layout, artifacts_for=artifacts_for, now=now)  # fmt: skip
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
