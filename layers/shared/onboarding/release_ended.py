"""A release whose execution ended without finishing: what it still holds goes back, as FailRelease does it.

FailRelease (an error no retry fixed) and ReleaseIntake (a later release finding the claim held by an execution
that was stopped, timed out or is gone) both put back the tenants a release execution still locks: each on what
its record names, one commit per wave, unlocked with the reason in its history. Record and git agree again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from onboarding.fleet import ReleaseState
from onboarding.ports import ArtifactsFor, Clock, GitOpsRepository, ReleaseStore, TenantStore
from onboarding.records import HistoryEntry, TenantRecord

if TYPE_CHECKING:  # the manifests (PyYAML) and the git writer load with the first put-back, not at cold start:
    # ReleaseIntake and the adapters import this module for ExecutionStatus and ClaimHolder
    from onboarding.manifests import GitOpsLayout


class ExecutionStatus(StrEnum):
    """Step Functions' DescribeExecution status, and MISSING for ExecutionDoesNotExist."""

    RUNNING = "RUNNING"
    PENDING_REDRIVE = "PENDING_REDRIVE"  # a redrive was asked for: it runs again
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"
    MISSING = "MISSING"

    @property
    def running(self) -> bool:
        return self in (ExecutionStatus.RUNNING, ExecutionStatus.PENDING_REDRIVE)


@dataclass(frozen=True)
class ClaimHolder:
    """Who holds the one-release-at-a-time claim: the release and the execution running it."""

    release_id: str
    execution: str
    claimed_at: datetime | None = None  # claims written before it was kept have none


# An intake that claimed has not started its execution yet: no execution is no proof the release ended until
# longer than any intake invocation can run (Lambda's 15 minutes).
NOT_STARTED_GRACE = timedelta(minutes=15)


def ended(status: ExecutionStatus, holder: ClaimHolder, now: datetime) -> bool:
    """Whether the claim's holder ended without giving it back (a claim just taken counts as running)."""
    if status is ExecutionStatus.MISSING and holder.claimed_at is not None:
        return now - holder.claimed_at >= NOT_STARTED_GRACE
    return not status.running


def _put_back_by(record: TenantRecord, release_id: str, execution: str) -> bool:
    last = record.history[-1] if record.history else None
    return (
        last is not None
        and last.execution == execution
        and last.outcome == "FAILED"
        and (last.detail or "").startswith(f"{release_id} failed")
    )


def put_back_held(
    release: ReleaseState, execution: str, reason: str, *, releases: ReleaseStore, tenants: TenantStore,
    repo: GitOpsRepository, layout: GitOpsLayout, artifacts_for: ArtifactsFor | None, now: Clock,
) -> list[str]:  # fmt: skip
    """Every tenant ``execution`` still locks, back on what its record names (one commit per wave).

    Tenants an earlier attempt put back (its reply lost) are named, not put back twice.
    """
    from onboarding.delivery import deliver_remote_tenants
    from onboarding.gitops import apply_files, wave_files

    release_id = release.release_id
    put_back: list[str] = []
    for plan in release.waves:
        wave = releases.wave(release_id, plan.index)
        records = [r for t in wave.members if (r := tenants.get(t)) is not None]
        held = [r for r in records if r.lock and r.lock.execution == execution]
        put_back += [r.tenant_id for r in records if r.lock is None and _put_back_by(r, release_id, execution)]
        if not held:
            continue
        desired = wave_files(held, {r.tenant_id: r.chart_version or "" for r in held}, layout)
        message = (
            f"Release {release_id} failed: wave {plan.name} back ({len(held)} tenants)\n\n"
            f"Release: {release_id}\nExecution: {execution}\n"
        )
        commit = apply_files(repo, desired, message).commit
        deliver_remote_tenants(artifacts_for, held, desired, commit)
        for record in held:
            entry = HistoryEntry(
                at=now(), operation="release", execution=execution, outcome="FAILED",
                detail=f"{release_id} failed ({reason[:300]}): kept chart {record.chart_version}",
            )  # fmt: skip
            tenants.release_lock(record.tenant_id, execution, entry)
            put_back.append(record.tenant_id)
    return put_back
