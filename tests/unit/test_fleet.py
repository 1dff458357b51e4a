"""Fleet releases, step by step with in-memory adapters: planning, one commit per wave, Flux's tally, halt and
rollback, tolerated failures, approvals, aborts and one release at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from onboarding.contract.release import (
    FleetReleaseCompleted,
    FleetReleaseHalted,
    FleetReleaseRejected,
    FleetReleaseRequested,
    FleetReleaseStarted,
    FleetReleaseWaveCompleted,
)
from onboarding.errors import TransientError
from onboarding.fleet import DEFERRED_WAVE, ReleaseInput, ReleaseState, WaveInput, WavePlan, plan_waves
from onboarding.manifests import GitOpsLayout
from onboarding.reconcile import Outcome, Verdict
from onboarding.steps.commit_wave import commit_wave
from onboarding.steps.complete_release import complete_release
from onboarding.steps.finish_wave import finish_wave
from onboarding.steps.halt_release import halt_release
from onboarding.steps.plan_release import plan_release
from onboarding.steps.release_intake import handle_release_event
from onboarding.steps.rollback_wave import rollback_wave
from onboarding.steps.tally_wave import tally_wave
from tests.utils.fakes import (
    Callbacks,
    Catalog,
    FixedRelease,
    InMemoryGitOpsRepository,
    InMemoryReconcileStore,
    InMemoryReleaseStore,
    InMemoryTenantStore,
    RecordingPublisher,
    RecordingStarter,
)
from tests.utils.release import RELEASE, active_tenant_as

T0 = datetime(2026, 11, 27, 12, tzinfo=UTC)
NEW = "1.1.0"


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at


class Fleet:
    def __init__(self, *tenants: tuple[str, str, str]) -> None:
        self.tenants, self.releases, self.verdicts = (
            InMemoryTenantStore(),
            InMemoryReleaseStore(),
            InMemoryReconcileStore(),
        )
        self.repo, self.publisher, self.clock = (
            InMemoryGitOpsRepository({"README.md": b"x"}),
            RecordingPublisher(),
            Clock(),
        )
        self.parameter = FixedRelease(RELEASE)
        self.ids = [active_tenant_as(self.tenants, signup, tier, model) for signup, tier, model in tenants]
        from onboarding.gitops import apply_files, wave_files

        records = [r for t in self.ids if (r := self.tenants.get(t)) is not None]
        versions = {r.tenant_id: RELEASE.chart_version for r in records}
        apply_files(self.repo, wave_files(records, versions, GitOpsLayout()), "onboarded")

    def request(self, **extra: Any) -> ReleaseInput:
        detail = {"releaseId": "rel-1", "chartVersion": NEW, **extra}
        return ReleaseInput(release_id="rel-1", execution="rel-x", request=FleetReleaseRequested.from_wire(detail))

    def plan(self, **extra: Any) -> list[WavePlan]:
        result = plan_release(self.request(**extra), tenants=self.tenants, releases=self.releases,
                              parameter=self.parameter, publisher=self.publisher, now=self.clock,
                              approval_timeout_seconds=600)  # fmt: skip
        *plans, self.deferred = [WavePlan.model_validate(w) for w in result["waves"]]
        assert self.deferred.name == DEFERRED_WAVE  # always last: the release comes back for busy tenants
        return plans

    def wave(self, plan: WavePlan) -> WaveInput:
        return WaveInput(release_id="rel-1", execution="rel-x", wave=plan)

    def commit(self, plan: WavePlan) -> dict[str, Any]:
        return commit_wave(self.wave(plan), releases=self.releases, tenants=self.tenants, repo=self.repo,
                           layout=GitOpsLayout(), artifacts_for=None, timeout_seconds=60, poll_seconds=5,
                           now=self.clock)  # fmt: skip

    def flux(self, tenant_id: str, outcome: Outcome = Outcome.READY, revision: str = NEW) -> None:
        reason = "UpgradeSucceeded" if outcome is Outcome.READY else "UpgradeFailed"
        self.verdicts.put_verdict(Verdict(tenant_id=tenant_id, outcome=outcome, reason=reason,
                                          message=f"Helm {reason}", revision=revision, at=self.clock()))  # fmt: skip

    def tally(self, plan: WavePlan, rollback: bool = False) -> dict[str, Any]:
        return tally_wave(self.wave(plan), releases=self.releases, verdicts=self.verdicts, now=self.clock,
                          poll_seconds=5, rollback=rollback)  # fmt: skip

    def chart_in_git(self, tenant_id: str) -> str:
        import yaml

        files = self.repo.head[1]
        path = next(p for p in files if tenant_id in p)
        release = next(d for d in yaml.safe_load_all(files[path]) if d and d["kind"] == "HelmRelease")
        return str(release["spec"]["chart"]["spec"]["version"])


def test_default_plan_is_one_canary_then_tiers_then_remote_and_hybrid() -> None:
    fleet = Fleet(("b1", "basic", "pooled"), ("b2", "basic", "pooled"), ("p1", "premium", "siloed"))
    plans = fleet.plan()
    assert [(p.name, p.tenants) for p in plans] == [("canary", 1), ("basic", 1), ("premium", 1)]
    (started,) = fleet.publisher.of(FleetReleaseStarted)
    assert started.chart_version == NEW and [w.tenants for w in started.waves] == [1, 1, 1]
    assert fleet.parameter.release.chart_version == NEW  # tenants onboarded meanwhile start on the release


def test_a_tenant_belongs_to_the_first_wave_it_matches_and_a_bare_wave_takes_the_rest() -> None:
    fleet = Fleet(("b1", "basic", "pooled"), ("p1", "premium", "siloed"), ("a1", "advanced", "siloed"))
    records = [fleet.tenants.get(t) for t in fleet.ids]
    plans, members = plan_waves(
        [r for r in records if r], FleetReleaseRequested.from_wire(
            {"releaseId": "r", "chartVersion": NEW, "waves": [{"name": "first", "tenantIds": [fleet.ids[2]]},
                                                              {"name": "premium", "tiers": ["premium"]},
                                                              {"name": "rest"}]}).waves,
    )  # fmt: skip
    assert [p.name for p in plans] == ["first", "premium", "rest"]
    assert members == [[fleet.ids[2]], [fleet.ids[1]], [fleet.ids[0]]]


def test_a_wave_is_one_commit_naming_the_release_and_its_tenants_move_once_flux_says_so() -> None:
    fleet = Fleet(("b1", "basic", "pooled"), ("b2", "basic", "pooled"))
    plan = WavePlan(index=0, name="all", tenants=2)
    fleet.plan(waves=[{"name": "all"}])
    pushes = fleet.repo.pushes
    fleet.commit(plan)
    assert fleet.repo.pushes == pushes + 1 and "Release rel-1" in fleet.repo.commits[-1][2]
    assert all(fleet.chart_in_git(t) == NEW for t in fleet.ids)
    assert fleet.tally(plan) == {"done": False, "pending": 2, "waitSeconds": 5, "halt": False, "rollback": False}
    for t in fleet.ids:
        fleet.flux(t)
    assert fleet.tally(plan)["done"] and fleet.tally(plan)["failed"] == 0
    finish_wave(fleet.wave(plan), releases=fleet.releases, tenants=fleet.tenants, repo=fleet.repo,
                layout=GitOpsLayout(), publisher=fleet.publisher, now=fleet.clock)  # fmt: skip
    for t in fleet.ids:
        record = fleet.tenants.get(t)
        assert record is not None and record.chart_version == NEW and record.lock is None
        assert record.history[-1].operation == "release" and "rel-1" in (record.history[-1].detail or "")
    (done,) = fleet.publisher.of(FleetReleaseWaveCompleted)
    assert (done.succeeded, done.failed) == (2, 0)
    complete_release(fleet.request(), releases=fleet.releases, publisher=fleet.publisher)
    assert fleet.publisher.of(FleetReleaseCompleted)[0].tenants == 2 and fleet.releases.active is None


def test_a_failed_canary_halts_and_rolls_back_in_one_commit_with_fluxs_reason() -> None:
    fleet = Fleet(("b1", "basic", "pooled"), ("b2", "basic", "pooled"))
    plans = fleet.plan()
    canary, tenant = plans[0], None
    fleet.commit(canary)
    tenant = fleet.releases.wave("rel-1", 0).members[0]
    fleet.flux(tenant, Outcome.FAILED)
    verdict = fleet.tally(canary)
    assert verdict["done"] and verdict["halt"] and verdict["rollback"]
    rollback_wave(fleet.wave(canary), releases=fleet.releases, tenants=fleet.tenants, repo=fleet.repo,
                  layout=GitOpsLayout(), artifacts_for=None, timeout_seconds=60, poll_seconds=5,
                  now=fleet.clock)  # fmt: skip
    assert fleet.chart_in_git(tenant) == RELEASE.chart_version
    fleet.flux(tenant, revision=RELEASE.chart_version)
    assert fleet.tally(canary, rollback=True)["done"]
    halt_release(fleet.wave(canary), releases=fleet.releases, tenants=fleet.tenants, parameter=fleet.parameter,
                 publisher=fleet.publisher, now=fleet.clock)  # fmt: skip
    (halted,) = fleet.publisher.of(FleetReleaseHalted)
    assert halted.wave == "canary" and halted.rolled_back == [tenant]
    assert halted.failed[0].tenant_id == tenant and "UpgradeFailed" in halted.failed[0].reason
    record = fleet.tenants.get(tenant)
    assert record is not None and record.chart_version == RELEASE.chart_version and record.lock is None
    assert fleet.parameter.release.chart_version == RELEASE.chart_version and fleet.releases.active is None
    other = next(t for t in fleet.ids if t != tenant)
    assert fleet.chart_in_git(other) == RELEASE.chart_version  # the next wave never started


def test_halt_without_rollback_leaves_the_wave_on_the_new_version_and_its_records_say_so() -> None:
    fleet = Fleet(("b1", "basic", "pooled"))
    (canary,) = fleet.plan(onFailure="halt")
    fleet.commit(canary)
    fleet.flux(fleet.ids[0], Outcome.FAILED)
    assert fleet.tally(canary)["halt"] and not fleet.tally(canary)["rollback"]
    halt_release(fleet.wave(canary), releases=fleet.releases, tenants=fleet.tenants, parameter=fleet.parameter,
                 publisher=fleet.publisher, now=fleet.clock)  # fmt: skip
    record = fleet.tenants.get(fleet.ids[0])
    assert record is not None and record.chart_version == NEW == fleet.chart_in_git(fleet.ids[0])


def test_tolerated_failures_go_back_to_their_version_and_the_wave_goes_on() -> None:
    fleet = Fleet(("b1", "basic", "pooled"), ("b2", "basic", "pooled"))
    (plan,) = fleet.plan(waves=[{"name": "all"}], maxFailures=1)
    fleet.commit(plan)
    fleet.flux(fleet.ids[0])
    fleet.flux(fleet.ids[1], Outcome.FAILED)
    tally = fleet.tally(plan)
    assert tally == {**tally, "done": True, "succeeded": 1, "failed": 1, "halt": False, "rollback": False}
    finish_wave(fleet.wave(plan), releases=fleet.releases, tenants=fleet.tenants, repo=fleet.repo,
                layout=GitOpsLayout(), publisher=fleet.publisher, now=fleet.clock)  # fmt: skip
    assert fleet.chart_in_git(fleet.ids[1]) == RELEASE.chart_version == fleet.tenants.get(fleet.ids[1]).chart_version  # type: ignore[union-attr]
    assert fleet.chart_in_git(fleet.ids[0]) == NEW == fleet.tenants.get(fleet.ids[0]).chart_version  # type: ignore[union-attr]


def test_silence_past_the_deadline_fails_the_tenant_with_what_was_awaited() -> None:
    fleet = Fleet(("b1", "basic", "pooled"))
    (canary,) = fleet.plan()
    fleet.commit(canary)
    fleet.clock.at += timedelta(minutes=5)
    result = fleet.tally(canary)
    assert result["done"] and result["halt"]
    (failed,) = fleet.releases.wave("rel-1", 0).failed
    assert f"Flux reported nothing for chart {NEW} within 60 s" == failed.reason


def test_a_tenant_busy_with_an_operation_is_deferred_not_moved() -> None:
    fleet = Fleet(("b1", "basic", "pooled"), ("b2", "basic", "pooled"))
    from onboarding.records import OperationLock

    busy = fleet.ids[1]
    record = fleet.tenants.get(busy)
    assert record is not None
    fleet.tenants.acquire_lock(record, OperationLock(operation="suspend", operation_id="op", execution="op-x", at=T0,
                                                     expires_at=T0 + timedelta(hours=1)))  # fmt: skip
    (plan,) = fleet.plan(waves=[{"name": "all"}])
    assert fleet.commit(plan)["deferred"] == 1
    wave = fleet.releases.wave("rel-1", 0)
    assert wave.deferred == [busy] and busy not in wave.members
    assert fleet.chart_in_git(busy) == RELEASE.chart_version
    # the release comes back for it in its last wave: still busy there, it stays and is named at the end
    assert fleet.releases.wave("rel-1", fleet.deferred.index).members == [busy]
    last = fleet.commit(fleet.deferred)
    assert (last["tenants"], last["deferred"], last["commit"]) == (0, 1, None)
    complete_release(fleet.request(), releases=fleet.releases, publisher=fleet.publisher)
    assert fleet.publisher.of(FleetReleaseCompleted)[0].deferred == [busy]


def test_a_deferred_tenant_free_by_the_end_is_moved_in_the_last_wave() -> None:
    fleet = Fleet(("b1", "basic", "pooled"))
    from onboarding.records import HistoryEntry, OperationLock

    (busy,) = fleet.ids
    record = fleet.tenants.get(busy)
    assert record is not None
    fleet.tenants.acquire_lock(record, OperationLock(operation="suspend", operation_id="op", execution="op-x", at=T0,
                                                     expires_at=T0 + timedelta(hours=1)))  # fmt: skip
    (plan,) = fleet.plan(waves=[{"name": "all"}])
    fleet.commit(plan)
    fleet.tenants.release_lock(busy, "op-x", HistoryEntry(at=T0, operation="suspend", execution="op-x", outcome="OK"))
    assert fleet.commit(fleet.deferred)["tenants"] == 1 and fleet.chart_in_git(busy) == NEW
    fleet.flux(busy)
    assert fleet.tally(fleet.deferred)["succeeded"] == 1


def test_a_tenant_offboarded_or_onboarded_on_the_release_meanwhile_is_not_moved() -> None:
    fleet = Fleet(("b1", "basic", "pooled"), ("b2", "basic", "pooled"))
    from onboarding.records import TenantStatus

    gone, there = fleet.ids
    (plan,) = fleet.plan(waves=[{"name": "all"}])
    fleet.tenants.records[gone] = fleet.tenants.records[gone].model_copy(update={"status": TenantStatus.OFFBOARDED})
    fleet.tenants.records[there] = fleet.tenants.records[there].model_copy(update={"chart_version": NEW})
    files = dict(fleet.repo.head[1])
    assert fleet.commit(plan)["tenants"] == 0 and fleet.repo.head[1] == files  # nothing put back, nothing moved


def test_a_tenant_still_onboarding_at_the_plan_is_in_the_last_wave() -> None:
    fleet = Fleet(("b1", "basic", "pooled"), ("b2", "basic", "pooled"))
    from onboarding.records import TenantStatus

    late = fleet.ids[1]
    fleet.tenants.records[late] = fleet.tenants.records[late].model_copy(update={"status": TenantStatus.ONBOARDING})
    fleet.plan(waves=[{"name": "all"}])
    assert fleet.releases.wave("rel-1", fleet.deferred.index).members == [late] and fleet.deferred.tenants == 1
    assert [w.name for w in fleet.publisher.of(FleetReleaseStarted)[0].waves] == ["all", DEFERRED_WAVE]


@pytest.mark.parametrize(
    ("detail", "field"),
    [({"releaseId": "r-2", "chartVersion": "1.x"}, "chartVersion"), ({"releaseId": "r-2", "chartVersion": "9.9.9"},
     "chartVersion"), ({"releaseId": "r-2", "chartVersion": NEW, "onFailure": "pray"}, "onFailure"),
     ({"releaseId": "r-2", "chartVersion": NEW, "waves": [{"name": "a"}, {"name": "a"}]}, "waves"),
     ({"releaseId": "r-2", "chartVersion": NEW, "images": [{"name": "web", "sourceRepository": "saas/web",
       "digest": "sha256:" + "c" * 64}]}, "images.0.name"),
     ({"releaseId": "r-2", "chartVersion": NEW, "images": [{"name": "api", "sourceRepository":
       "ghcr.io/someone/api", "digest": "sha256:" + "c" * 64}]}, "images.0.sourceRepository")],
)  # fmt: skip
def test_an_invalid_or_unpublished_request_is_rejected_and_starts_nothing(detail: dict[str, Any], field: str) -> None:
    releases, starter, publisher = InMemoryReleaseStore(), RecordingStarter(), RecordingPublisher()
    out = handle_release_event("Fleet Release Requested", detail, releases=releases, starter=starter,
                               publisher=publisher, catalog=Catalog(NEW), callbacks=Callbacks(),
                               current=RELEASE)  # fmt: skip
    assert out["outcome"] == "rejected" and starter.started == {} and releases.active is None
    (rejected,) = publisher.of(FleetReleaseRejected)
    assert any(e.field.startswith(field) for e in rejected.errors)


def test_one_release_at_a_time_and_a_duplicate_request_starts_nothing_more() -> None:
    releases, starter, publisher = InMemoryReleaseStore(), RecordingStarter(), RecordingPublisher()

    def request(release_id: str) -> dict[str, Any]:
        return handle_release_event("Fleet Release Requested", {"releaseId": release_id, "chartVersion": NEW},
                                    releases=releases, starter=starter, publisher=publisher, catalog=Catalog(NEW),
                                    callbacks=Callbacks(), current=RELEASE)  # fmt: skip

    assert request("r-1")["outcome"] == "started"
    assert request("r-1")["outcome"] == "duplicate"
    assert request("r-2")["outcome"] == "rejected"
    assert "r-1 is running" in publisher.of(FleetReleaseRejected)[0].errors[0].message
    assert len(starter.started) == 1


def test_a_release_failed_by_an_error_puts_back_the_tenants_it_holds_and_their_records_and_git_agree() -> None:
    from onboarding.payloads import StepError
    from onboarding.steps.fail_release import fail_release

    fleet = Fleet(("b1", "basic", "pooled"), ("b2", "basic", "pooled"))
    (plan,) = fleet.plan(waves=[{"name": "all"}])
    fleet.commit(plan)  # committed and locked; then TallyWave fails for good (say, its table is gone)
    assert all(fleet.chart_in_git(t) == NEW for t in fleet.ids)
    error = StepError.model_validate({"Error": "StorageError", "Cause": '{"errorMessage": "table gone"}'})
    out = fail_release(fleet.request(), error, releases=fleet.releases, tenants=fleet.tenants, repo=fleet.repo,
                       layout=GitOpsLayout(), artifacts_for=None, parameter=fleet.parameter,
                       publisher=fleet.publisher, now=fleet.clock)  # fmt: skip
    assert out["putBack"] == 2 and "Release rel-1 failed" in fleet.repo.commits[-1][2]
    for tenant_id in fleet.ids:
        record = fleet.tenants.get(tenant_id)
        assert record is not None and record.lock is None and record.history[-1].outcome == "FAILED"
        assert record.chart_version == RELEASE.chart_version == fleet.chart_in_git(tenant_id)
    (halted,) = fleet.publisher.of(FleetReleaseHalted)
    assert halted.rolled_back == sorted(fleet.ids) and "StorageError" in halted.failed[0].reason
    assert fleet.parameter.release == RELEASE and fleet.releases.active is None


def abort(releases: InMemoryReleaseStore, publisher: RecordingPublisher, release_id: str) -> dict[str, Any]:
    return handle_release_event("Fleet Release Aborted", {"releaseId": release_id}, releases=releases,
                                starter=RecordingStarter(), publisher=publisher, catalog=Catalog(NEW),
                                callbacks=Callbacks(), current=RELEASE)  # fmt: skip


def test_an_abort_of_a_release_that_does_not_exist_is_rejected_and_records_nothing() -> None:
    releases, publisher = InMemoryReleaseStore(), RecordingPublisher()
    assert abort(releases, publisher, "r-nope")["outcome"] == "rejected"
    (rejected,) = publisher.of(FleetReleaseRejected)
    assert [(e.field, e.message) for e in rejected.errors] == [("releaseId", "no such release")]
    assert releases.releases == {}


class LostAbortReply(InMemoryReleaseStore):
    """The first abort takes effect, then its reply is lost (the adapter raises TransientError)."""

    lost = False

    def mark_aborted(self, release_id: str) -> bool:
        done = super().mark_aborted(release_id)
        if not self.lost:
            self.lost = True
            raise TransientError("dynamodb:UpdateItem: reply lost")
        return done


def test_an_abort_whose_reply_was_lost_is_retried_to_the_same_outcome() -> None:
    releases, publisher = LostAbortReply(), RecordingPublisher()
    request = FleetReleaseRequested.from_wire({"releaseId": "r-1", "chartVersion": NEW})
    assert releases.create(ReleaseState(release_id="r-1", execution="rel-r-1", chart_version=NEW, request=request,
                                        created_at=datetime(2026, 11, 28, tzinfo=UTC)))  # fmt: skip
    with pytest.raises(TransientError):  # the delivery fails, and EventBridge delivers the event again
        abort(releases, publisher, "r-1")
    assert releases.get("r-1").aborted  # type: ignore[union-attr]  # it took effect
    assert abort(releases, publisher, "r-1")["outcome"] == "aborting"  # the retry: the same, nothing rejected
    assert releases.get("r-1").aborted and publisher.of(FleetReleaseRejected) == []  # type: ignore[union-attr]
