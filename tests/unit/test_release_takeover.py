"""ReleaseIntake's claim held by a release execution: still running, the request is rejected as before; ended
without finishing, the tenants it locks are put back, its record marked, ``Fleet Release Halted`` says why,
and the claim is taken over (a lost reply of that write resolved by re-reading who holds it)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from onboarding.contract.release import FleetReleaseHalted, FleetReleaseRejected
from onboarding.errors import TransientError
from onboarding.fleet import ReleaseStatus, release_execution_name
from onboarding.manifests import GitOpsLayout
from onboarding.release_ended import ClaimHolder, ExecutionStatus
from onboarding.steps.release_intake import Takeover, handle_release_event
from tests.unit.test_fleet import NEW, Fleet
from tests.utils.fakes import Callbacks, Catalog, InMemoryReleaseStore, RecordingStarter
from tests.utils.release import RELEASE


class ClaimStore(InMemoryReleaseStore):
    """The in-memory store, with the claim naming its execution as the DynamoDB adapter's does."""

    def __init__(self, *, lose_takeover_reply: bool = False) -> None:
        super().__init__()
        self.execution: str | None = None
        self.claimed_at: datetime | None = None
        self.lose_takeover_reply = lose_takeover_reply

    def claim(self, release_id: str) -> str | None:
        running = super().claim(release_id)
        if running is None and self.execution is None:
            self.execution = release_execution_name(release_id)
        return running

    def free(self, release_id: str) -> None:
        super().free(release_id)
        if self.active is None:
            self.execution = None

    def holder(self) -> ClaimHolder | None:
        if self.active is None:
            return None
        return ClaimHolder(self.active, self.execution or release_execution_name(self.active), self.claimed_at)

    def take_over(self, old: ClaimHolder, release_id: str, execution: str) -> bool:
        if self.holder() != old:
            return False
        self.active, self.execution = release_id, execution
        if self.lose_takeover_reply:
            self.lose_takeover_reply = False
            raise TransientError("dynamodb:PutItem active release: the reply was lost")
        return True


class Executions:
    def __init__(self, **statuses: ExecutionStatus) -> None:
        self.statuses = statuses
        self.asked: list[str] = []

    def status(self, name: str) -> ExecutionStatus:
        self.asked.append(name)
        return self.statuses.get(name, ExecutionStatus.MISSING)


def started_fleet(claims: ClaimStore) -> Fleet:
    """rel-1 (execution rel-x) planned, its one wave committed: both tenants locked and on NEW in git."""
    fleet = Fleet(("b1", "basic", "pooled"), ("b2", "basic", "pooled"))
    fleet.releases = claims
    (plan,) = fleet.plan(waves=[{"name": "all"}])
    fleet.commit(plan)
    claims.active, claims.execution = "rel-1", "rel-x"
    assert all(fleet.chart_in_git(t) == NEW for t in fleet.ids)
    return fleet


def request(fleet: Fleet, claims: ClaimStore, executions: Executions, starter: RecordingStarter) -> dict[str, Any]:
    takeover = Takeover(executions=executions, claims=claims, tenants=fleet.tenants, repo=lambda: fleet.repo,
                        layout=GitOpsLayout(), artifacts_for=None, parameter=fleet.parameter,
                        now=fleet.clock)  # fmt: skip
    return handle_release_event("Fleet Release Requested", {"releaseId": "rel-2", "chartVersion": NEW},
                                releases=claims, starter=starter, publisher=fleet.publisher, catalog=Catalog(NEW),
                                callbacks=Callbacks(), current=RELEASE, takeover=takeover)  # fmt: skip


def test_a_running_holder_keeps_the_claim_and_the_request_is_rejected() -> None:
    # Given rel-1's execution still runs
    claims, starter = ClaimStore(), RecordingStarter()
    fleet = started_fleet(claims)
    executions = Executions(**{"rel-x": ExecutionStatus.RUNNING})
    # When rel-2 is requested
    out = request(fleet, claims, executions, starter)
    # Then it is rejected, and nothing of rel-1 is touched
    assert out["outcome"] == "rejected" and starter.started == {} and executions.asked == ["rel-x"]
    assert "rel-1 is running" in fleet.publisher.of(FleetReleaseRejected)[0].errors[0].message
    assert claims.holder() == ClaimHolder("rel-1", "rel-x")
    assert all((r := fleet.tenants.get(t)) and r.lock and r.lock.execution == "rel-x" for t in fleet.ids)
    assert (release := claims.get("rel-1")) and release.status is ReleaseStatus.RUNNING


@pytest.mark.parametrize("status", [ExecutionStatus.ABORTED, ExecutionStatus.TIMED_OUT, ExecutionStatus.MISSING])
@pytest.mark.parametrize("lose_reply", [False, True], ids=["reply", "lost-reply"])
def test_an_ended_holder_is_ended_truthfully_and_its_claim_taken_over(
    status: ExecutionStatus, lose_reply: bool
) -> None:
    # Given rel-1's execution ended without finishing, its wave's tenants locked and moved in git
    claims, starter = ClaimStore(lose_takeover_reply=lose_reply), RecordingStarter()
    fleet = started_fleet(claims)
    # When rel-2 is requested
    out = request(fleet, claims, Executions(**{"rel-x": status}), starter)
    # Then rel-2 holds the claim and runs
    name = release_execution_name("rel-2")
    assert out == {"outcome": "started", "execution": name} and list(starter.started) == [name]
    assert claims.holder() == ClaimHolder("rel-2", name)
    # and rel-1's tenants are back on their records' version, in git too, unlocked with the reason in history
    for tenant_id in fleet.ids:
        record = fleet.tenants.get(tenant_id)
        assert record is not None and record.lock is None and record.chart_version == RELEASE.chart_version
        assert fleet.chart_in_git(tenant_id) == RELEASE.chart_version
        assert f"execution ended without finishing: {status.value}" in (record.history[-1].detail or "")
    # and rel-1 is marked, its parameter put back, and the event names why and whom
    assert (release := claims.get("rel-1")) and release.status is ReleaseStatus.HALTED
    assert fleet.parameter.release == RELEASE
    (halted,) = fleet.publisher.of(FleetReleaseHalted)
    assert halted.release_id == "rel-1" and halted.rolled_back == sorted(fleet.ids)
    assert halted.failed[0].reason == f"execution ended without finishing: {status.value}"
    assert fleet.publisher.of(FleetReleaseRejected) == []


def test_an_intake_that_lost_the_race_to_take_over_is_rejected() -> None:
    claims, starter = ClaimStore(), RecordingStarter()
    fleet = started_fleet(claims)

    class Racing(Executions):  # another intake takes the claim over between the check and the write
        def status(self, name: str) -> ExecutionStatus:
            claims.active, claims.execution = "rel-3", release_execution_name("rel-3")
            return ExecutionStatus.ABORTED

    out = request(fleet, claims, Racing(), starter)
    assert out["outcome"] == "rejected" and starter.started == {}
    assert "rel-3 is running" in fleet.publisher.of(FleetReleaseRejected)[0].errors[0].message


def test_a_claim_just_taken_whose_execution_has_not_started_yet_counts_as_running() -> None:
    claims, starter = ClaimStore(), RecordingStarter()
    fleet = started_fleet(claims)
    claims.claimed_at = fleet.clock()  # its intake claimed a moment ago and is about to start the execution
    out = request(fleet, claims, Executions(), starter)
    assert out["outcome"] == "rejected" and claims.holder() == ClaimHolder("rel-1", "rel-x", claims.claimed_at)
    claims.claimed_at -= timedelta(hours=1)  # an hour on, still no execution: that intake never started it
    assert request(fleet, claims, Executions(), starter)["outcome"] == "started"
