"""BuildCallback: a CodeBuild "Build State Change" resumes the onboarding waiting for that build."""

from __future__ import annotations

from onboarding.codebuild_events import BuildStateChange
from onboarding.observability import logger
from onboarding.ports import PendingBuilds, TaskCallbacks

FINAL = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "TIMED_OUT", "FAULT"})


def _exported(detail: BuildStateChange) -> dict[str, str]:
    return {v.name: v.value for v in detail.additional_information.exported_environment_variables}


def failure_cause(detail: BuildStateChange) -> str:
    """The build's own reason: the failed phase and its context."""
    failed = [p for p in detail.additional_information.phases if p.phase_status not in (None, "SUCCEEDED")]
    where = "; ".join(f"{p.phase_type}: {' '.join(p.phase_context)}".strip() for p in failed)
    return f"build {detail.build_id} {detail.build_status}" + (f" in {where}" if where else "")


def handle_build_state_change(detail: BuildStateChange, *, pending: PendingBuilds, callbacks: TaskCallbacks) -> str:
    status = detail.build_status
    if status not in FINAL:
        return "ignored"
    build_id = detail.build_id
    waiting = pending.get(build_id)
    if waiting is None:
        logger.info("no execution waits for this build", extra={"buildId": build_id, "status": status})
        return "unknown-build"
    logger.set_correlation_id(waiting["tenantId"])
    if status == "SUCCEEDED":
        digests = dict(pair.split("=", 1) for pair in _exported(detail).get("IMAGE_DIGESTS", "").split())
        if not digests:
            outcome = "failed"
            callbacks.fail(waiting["taskToken"], "ArtifactBuildFailed", f"build {build_id} exported no IMAGE_DIGESTS")
        else:
            outcome = "succeeded"
            callbacks.succeed(waiting["taskToken"], {"digests": digests, "buildId": build_id})
    else:
        outcome = "failed"
        callbacks.fail(waiting["taskToken"], "ArtifactBuildFailed", failure_cause(detail))
    pending.remove(build_id)  # only once the execution was resumed: a failed callback is retried with it
    return outcome
