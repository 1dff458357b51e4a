"""Fleet release steps retried after a call whose effect is uncertain (a lost reply, a crash after it): the retry
does what is left, and nothing twice (the fault-injection suite drives the same on the local stack)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from onboarding.contract.release import FleetReleaseHalted, FleetReleaseStarted
from onboarding.errors import TransientError
from onboarding.manifests import GitOpsLayout
from onboarding.payloads import StepError
from onboarding.reconcile import Outcome
from onboarding.records import Release
from onboarding.steps.fail_release import fail_release
from onboarding.steps.rollback_wave import rollback_wave
from tests.unit.test_fleet import NEW, Fleet
from tests.unit.test_release_images import IMAGES, ImageFleet
from tests.utils.fakes import CopyBuilds, FixedRelease, InMemoryReleaseStore
from tests.utils.release import RELEASE


class LostStartReply(CopyBuilds):
    """CodeBuild started the build, and its reply was lost."""

    def __init__(self) -> None:
        super().__init__()
        self.lose = 1

    def start(self, project: str, environment: Mapping[str, str]) -> str:
        build_id = super().start(project, environment)
        if self.lose:
            self.lose -= 1
            raise TransientError("codebuild:StartBuild: read timeout (the build started)")
        return build_id


def test_a_copy_build_whose_start_reply_was_lost_is_found_by_the_retry_and_not_started_twice() -> None:
    fleet = ImageFleet(("p1", "basic", "pooled"), ("r1", "basic", "remote"), ("r2", "basic", "remote"))
    fleet.builds = LostStartReply()
    (plan,) = fleet.plan(waves=[{"name": "all"}], images=IMAGES)
    with pytest.raises(TransientError):
        fleet.copy(plan)
    assert fleet.copy(plan)["copying"] == 2
    assert len(fleet.builds.started) == 2  # one build per remote tenant, the lost one found
    wave = fleet.releases.wave("rel-1", plan.index)
    assert sorted(wave.copies.values()) == sorted(fleet.builds.started) and wave.copies_starting == []


class FailingParameter(FixedRelease):
    def __init__(self, release: Release) -> None:
        super().__init__(release)
        self.fail = 1

    def write(self, release: Release) -> None:
        if self.fail:
            self.fail -= 1
            raise TransientError("ssm:PutParameter: connect timeout")
        super().write(release)


def test_a_plan_retried_after_its_parameter_write_failed_moves_the_parameter_and_announces_once() -> None:
    fleet = Fleet(("p1", "basic", "pooled"))
    fleet.parameter = FailingParameter(RELEASE)
    with pytest.raises(TransientError):
        fleet.plan(waves=[{"name": "all"}])
    assert fleet.releases.get("rel-1") is not None and fleet.publisher.of(FleetReleaseStarted) == []
    fleet.plan(waves=[{"name": "all"}])  # the plan stands; the parameter and the announcement follow
    assert fleet.parameter.release.chart_version == NEW
    assert len(fleet.publisher.of(FleetReleaseStarted)) == 1
    fleet.plan(waves=[{"name": "all"}])
    assert len(fleet.publisher.of(FleetReleaseStarted)) == 1


class FailingWaveSave(InMemoryReleaseStore):
    """The wave's record written after the push fails: its reply lost (``landed``), or before it took effect."""

    def __init__(self, landed: bool) -> None:
        super().__init__()
        self.fail_after_commit, self.landed = 1, landed

    def save_wave(self, release_id: str, wave: Any) -> None:
        failing = wave.commit is not None and self.fail_after_commit > 0
        if not failing or self.landed:
            super().save_wave(release_id, wave)
        if failing:
            self.fail_after_commit -= 1
            raise TransientError("dynamodb:PutItem: read timeout" if self.landed else "connect timeout")


@pytest.mark.parametrize("landed", [True, False], ids=["record-lost-reply", "record-timeout"])
def test_a_wave_retried_after_its_push_landed_keeps_when_it_was_sent_and_what_each_tenant_ran(landed: bool) -> None:
    # before the fix: the retry's time was taken for the push's, so the verdicts that came in between were never
    # counted (healthy tenants failed at the deadline), and without the record the rollback raised KeyError
    fleet = Fleet(("p1", "basic", "pooled"), ("p2", "basic", "pooled"))
    fleet.releases = FailingWaveSave(landed)
    (plan,) = fleet.plan(waves=[{"name": "all"}])
    with pytest.raises(TransientError):
        fleet.commit(plan)
    pushed = len(fleet.repo.commits)
    sent = fleet.releases.wave("rel-1", plan.index).committed_at
    for tenant_id in fleet.ids:  # Flux answers the push before the retry
        fleet.flux(tenant_id, Outcome.FAILED if tenant_id == fleet.ids[0] else Outcome.READY)
    fleet.commit(plan)
    assert len(fleet.repo.commits) == pushed  # no second commit
    wave = fleet.releases.wave("rel-1", plan.index)
    assert wave.committed_at == sent and wave.previous == dict.fromkeys(fleet.ids, RELEASE.chart_version)
    verdict = fleet.tally(plan)  # the verdicts that came in between count: one failed, one healthy
    assert (verdict["done"], verdict["succeeded"], verdict["failed"], verdict["rollback"]) == (True, 1, 1, True)
    rollback_wave(fleet.wave(plan), releases=fleet.releases, tenants=fleet.tenants, repo=fleet.repo,
                  layout=GitOpsLayout(), artifacts_for=None, timeout_seconds=60, poll_seconds=5,
                  now=fleet.clock)  # fmt: skip
    assert {fleet.chart_in_git(t) for t in fleet.ids} == {RELEASE.chart_version}


def test_a_failed_release_retried_after_putting_tenants_back_names_them() -> None:
    fleet = Fleet(("p1", "basic", "pooled"), ("p2", "basic", "pooled"))
    (plan,) = fleet.plan(waves=[{"name": "all"}])
    fleet.commit(plan)
    step = fleet.request(waves=[{"name": "all"}])
    error = StepError.model_validate({"Error": "StorageError", "Cause": "dynamodb:Query: ValidationException"})

    def fail() -> dict[str, Any]:
        return fail_release(step, error, releases=fleet.releases, tenants=fleet.tenants, repo=fleet.repo,
                            layout=GitOpsLayout(), artifacts_for=None, parameter=fleet.parameter,
                            publisher=fleet.publisher, now=fleet.clock)  # fmt: skip

    fail()
    fail()  # the first attempt's reply was lost: the retry puts back nothing more, and says what was
    first, again = fleet.publisher.of(FleetReleaseHalted)
    assert first.rolled_back == again.rolled_back == sorted(fleet.ids)
    assert {fleet.chart_in_git(t) for t in fleet.ids} == {RELEASE.chart_version}
