"""PlanRelease: the live tenants (ACTIVE and SUSPENDED, by index query) assigned to waves, kept in DynamoDB.

The release parameter moves to the new chart version (and the release's images, merged by name) at once, so
a tenant onboarding meanwhile starts on the release; a halted release moves it back.
"""

from __future__ import annotations

from typing import Any

from onboarding.contract.release import FleetReleaseStarted, WaveTenants
from onboarding.errors import InvalidReleaseRequest
from onboarding.fleet import DEFERRED_WAVE, ReleaseInput, ReleaseState, WavePlan, WaveState, plan_waves
from onboarding.ports import Clock, EventPublisher, ReleaseParameter, ReleaseStore, TenantStore
from onboarding.records import TenantStatus
from onboarding.release_images import merged_images, release_version_of


def plan_release(
    step: ReleaseInput,
    *,
    tenants: TenantStore,
    releases: ReleaseStore,
    parameter: ReleaseParameter,
    publisher: EventPublisher,
    now: Clock,
    approval_timeout_seconds: int,
) -> dict[str, Any]:
    existing = releases.get(step.release_id)
    if existing is not None and existing.execution == step.execution and existing.waves:
        # a retried invocation: the plan stands; what the earlier one may not have done after recording it
        # (its reply lost, the parameter's write or the announcement failed) is done now
        _announce(existing, releases=releases, parameter=parameter, publisher=publisher)
        return {"waves": [w.wire() for w in existing.waves]}
    live = [*tenants.by_status(TenantStatus.ACTIVE), *tenants.by_status(TenantStatus.SUSPENDED)]
    plans, members = plan_waves(live, step.request.waves)
    onboarding = sorted(t.tenant_id for t in tenants.by_status(TenantStatus.ONBOARDING))
    plans.append(WavePlan(index=len(plans), name=DEFERRED_WAVE, tenants=len(onboarding)))
    members.append(onboarding)  # still onboarding now: the release comes back for them at the end
    plans = [p.model_copy(update={"approval_timeout_seconds": approval_timeout_seconds}) for p in plans]
    current = existing.previous_release if existing and existing.previous_release else parameter.read()
    new = current.model_copy(update={"chart_version": step.request.chart_version})
    if step.request.images:
        images, errors = merged_images(current, step.request.images)
        if errors:  # the release parameter changed since the intake checked the request
            raise InvalidReleaseRequest("; ".join(f"{e.field}: {e.message}" for e in errors))
        new = new.model_copy(update={"images": images, "version": release_version_of(step.release_id)})
    release = ReleaseState(
        release_id=step.release_id,
        execution=step.execution,
        chart_version=step.request.chart_version,
        previous_chart_version=current.chart_version,
        release=new,
        previous_release=current,
        request=step.request,
        waves=plans,
        created_at=now(),
    )
    for plan, ids in zip(plans, members, strict=True):
        releases.save_wave(step.release_id, WaveState(index=plan.index, name=plan.name, members=ids))
    if existing is None:
        releases.create(release)
    else:
        releases.save(release)
    _announce(release, releases=releases, parameter=parameter, publisher=publisher)
    return {"waves": [p.wire() for p in plans]}


def _announce(
    release: ReleaseState, *, releases: ReleaseStore, parameter: ReleaseParameter, publisher: EventPublisher
) -> None:
    """The release parameter names the release (a tenant onboarding now starts on it), then the release is
    announced, once it was; each is done again by a retry until the record says both were."""
    if release.announced:
        return
    if release.release is not None and parameter.read() != release.release:
        parameter.write(release.release)
    plans = release.waves
    waves = [WaveTenants(name=p.name, tenants=p.tenants) for p in plans if p.name != DEFERRED_WAVE or p.tenants]
    publisher.publish(
        [FleetReleaseStarted(release_id=release.release_id, chart_version=release.chart_version, waves=waves)]
    )
    current = releases.get(release.release_id) or release  # an abort may have been recorded meanwhile
    releases.save(current.model_copy(update={"announced": True}))
