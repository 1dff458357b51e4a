"""ReleaseIntake: fleet release requests, approvals and aborts from the provider's CI.

A request is validated, its chart version must be published, its images must be images of the release in
the provider's registry, and only one release runs at a time; an invalid or refused request is announced as
``Fleet Release Rejected`` and changes nothing.

The claim names the execution holding it. A request finding it held asks Step Functions whether that execution
still runs: if it ended without finishing (stopped, timed out, failed with FailRelease failing too, or gone),
the tenants it still locks are put back as FailRelease puts them (record and git agree), the release parameter
goes back, its record is marked HALTED, ``Fleet Release Halted`` names why and whom, and the claim is taken
over with a write that names the old holder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from onboarding.contract.common import FieldError
from onboarding.contract.release import (
    FailedTenant,
    FleetReleaseAborted,
    FleetReleaseApproved,
    FleetReleaseHalted,
    FleetReleaseRejected,
    FleetReleaseRequested,
)
from onboarding.errors import TransientError
from onboarding.fleet import ReleaseInput, ReleaseStatus, release_execution_name
from onboarding.observability import logger
from onboarding.ports import (
    ArtifactsFor,
    ChartCatalog,
    Clock,
    EventPublisher,
    ExecutionStarter,
    GitOpsRepository,
    ReleaseParameter,
    ReleaseStore,
    TaskCallbacks,
    TenantStore,
)
from onboarding.records import Release
from onboarding.release_ended import ClaimHolder, ExecutionStatus, ended, put_back_held
from onboarding.release_images import merged_images, restore_parameter
from onboarding.validation import bounded, field_errors

if TYPE_CHECKING:
    from onboarding.manifests import GitOpsLayout


class Executions(Protocol):
    def status(self, name: str) -> ExecutionStatus:
        """Whether the release state machine's execution ``name`` still runs (MISSING: there is none)."""
        ...


class Claims(Protocol):
    def holder(self) -> ClaimHolder | None: ...

    def take_over(self, old: ClaimHolder, release_id: str, execution: str) -> bool:
        """Replace ``old`` as the claim's holder; False when it no longer holds it."""
        ...


@dataclass(frozen=True)
class Takeover:
    """What taking the claim from a release execution that ended needs: FailRelease's dependencies."""

    executions: Executions
    claims: Claims
    tenants: TenantStore
    repo: Callable[[], GitOpsRepository]  # made only when tenants must be put back
    layout: GitOpsLayout
    artifacts_for: ArtifactsFor | None
    parameter: ReleaseParameter
    now: Clock


def _reject(publisher: EventPublisher, release_id: Any, errors: list[FieldError]) -> dict[str, Any]:
    rid = release_id if isinstance(release_id, str) and release_id and len(release_id) <= 256 else None
    errors = bounded(errors)  # whatever the request held, the rejection fits in an event
    publisher.publish([FleetReleaseRejected(release_id=rid, errors=errors)])
    logger.info("fleet release rejected", extra={"releaseId": rid, "errors": [e.wire() for e in errors]})
    return {"outcome": "rejected", "errors": [e.wire() for e in errors]}


def _end(holder: ClaimHolder, status: ExecutionStatus, releases: ReleaseStore, publisher: EventPublisher,
         deps: Takeover) -> None:  # fmt: skip
    """The release whose execution ended without finishing: put back, parameter back, marked, announced."""
    release = releases.get(holder.release_id)
    if release is None or release.status is not ReleaseStatus.RUNNING:
        return  # PlanRelease never ran, or it ended truthfully (only its claim was not given back)
    reason = f"execution ended without finishing: {status.value}"
    put_back = put_back_held(release, holder.execution, reason, releases=releases, tenants=deps.tenants,
                             repo=deps.repo(), layout=deps.layout, artifacts_for=deps.artifacts_for,
                             now=deps.now)  # fmt: skip
    restore_parameter(deps.parameter, release)
    failed = [FailedTenant(tenant_id="(release)", reason=reason)]
    publisher.publish([FleetReleaseHalted(release_id=holder.release_id, wave="(none)", failed=failed,
                                          rolled_back=sorted(put_back))])  # fmt: skip
    releases.save(release.model_copy(update={"status": ReleaseStatus.HALTED}))
    logger.warning("release execution ended without finishing", extra={"releaseId": holder.release_id,
                   "execution": holder.execution, "status": status.value, "putBack": sorted(put_back)})  # fmt: skip


def _take_over(release_id: str, execution: str, releases: ReleaseStore, publisher: EventPublisher,
               deps: Takeover | None) -> str | None:  # fmt: skip
    """None when this release now holds the claim; else the release still running."""
    running = releases.claim(release_id)
    if running is None or deps is None:
        return running
    holder = deps.claims.holder()
    if holder is None:  # given back meanwhile
        return releases.claim(release_id)
    if holder.release_id == release_id:
        return None
    status = deps.executions.status(holder.execution)
    if not ended(status, holder, deps.now()):
        return holder.release_id
    _end(holder, status, releases, publisher, deps)
    try:
        taken = deps.claims.take_over(holder, release_id, execution)
    except TransientError:  # its reply lost: who holds it now says whether it landed
        now_holder = deps.claims.holder()
        if now_holder is None or (now_holder.release_id, now_holder.execution) != (release_id, execution):
            raise
        taken = True
    return None if taken else (getattr(deps.claims.holder(), "release_id", None) or "another release")


def handle_release_event(
    detail_type: str,
    detail: Any,
    *,
    releases: ReleaseStore,
    starter: ExecutionStarter,
    publisher: EventPublisher,
    catalog: ChartCatalog,
    callbacks: TaskCallbacks,
    current: Release,
    takeover: Takeover | None = None,
) -> dict[str, Any]:
    raw_id = detail.get("releaseId") if isinstance(detail, dict) else None
    try:
        if detail_type == "Fleet Release Approved":
            approved = FleetReleaseApproved.from_wire(detail)
            token = releases.approval(approved.release_id, approved.wave)
            if token is None or not callbacks.succeed(token, {"approved": approved.wave}):
                return {"outcome": "not-waiting"}
            return {"outcome": "approved"}
        if detail_type == "Fleet Release Aborted":
            aborted = FleetReleaseAborted.from_wire(detail)
            if not releases.mark_aborted(aborted.release_id):
                return _reject(publisher, raw_id, [FieldError(field="releaseId", message="no such release")])
            return {"outcome": "aborting"}
        request = FleetReleaseRequested.from_wire(detail)
    except ValidationError as exc:
        return _reject(publisher, raw_id, field_errors(exc))
    if request.images is not None:  # each image must be one the release has, in the provider's registry
        errors = merged_images(current, request.images)[1]
        if errors:
            return _reject(publisher, request.release_id, errors)
    if not catalog.has("tenant", request.chart_version):
        message = f"chart tenant {request.chart_version} is not published in the chart registry"
        return _reject(publisher, request.release_id, [FieldError(field="chartVersion", message=message)])
    name = release_execution_name(request.release_id)
    running = _take_over(request.release_id, name, releases, publisher, takeover)
    if running is not None:
        message = f"release {running} is running: one release at a time"
        return _reject(publisher, request.release_id, [FieldError(field="releaseId", message=message)])
    payload = ReleaseInput(release_id=request.release_id, execution=name, request=request)
    started = starter.start(name, payload.model_dump(mode="json", by_alias=True))
    if not started:  # a duplicate delivery: its release runs (keep the claim) or has ended (give it back)
        existing = releases.get(request.release_id)
        if existing is not None and existing.status is not ReleaseStatus.RUNNING:
            releases.free(request.release_id)
    logger.info("fleet release started" if started else "duplicate release", extra={"execution": name})
    return {"outcome": "started" if started else "duplicate", "execution": name}
