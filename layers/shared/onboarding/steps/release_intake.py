"""ReleaseIntake: fleet release requests, approvals and aborts from the provider's CI.

A request is validated, its chart version must be published, its images must be images of the release in
the provider's registry, and only one release runs at a time; an invalid or refused request is announced as
``Fleet Release Rejected`` and changes nothing.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from onboarding.contract import FieldError
from onboarding.contract.release import (
    FleetReleaseAborted,
    FleetReleaseApproved,
    FleetReleaseRejected,
    FleetReleaseRequested,
)
from onboarding.fleet import ReleaseInput, ReleaseStatus, release_execution_name
from onboarding.observability import logger
from onboarding.ports import ChartCatalog, EventPublisher, ExecutionStarter, ReleaseStore, TaskCallbacks
from onboarding.records import Release
from onboarding.release_images import merged_images
from onboarding.validation import bounded, field_errors


def _reject(publisher: EventPublisher, release_id: Any, errors: list[FieldError]) -> dict[str, Any]:
    rid = release_id if isinstance(release_id, str) and release_id and len(release_id) <= 256 else None
    errors = bounded(errors)  # whatever the request held, the rejection fits in an event
    publisher.publish([FleetReleaseRejected(release_id=rid, errors=errors)])
    logger.info("fleet release rejected", extra={"releaseId": rid, "errors": [e.wire() for e in errors]})
    return {"outcome": "rejected", "errors": [e.wire() for e in errors]}


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
            release = releases.get(aborted.release_id)
            if release is None:
                return _reject(publisher, raw_id, [FieldError(field="releaseId", message="no such release")])
            releases.save(release.model_copy(update={"aborted": True}))
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
    running = releases.claim(request.release_id)
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
