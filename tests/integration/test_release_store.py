"""The DynamoDB release store against moto: a wave of 10,000 tenants, every one failed with a long reason,
fits DynamoDB's item limit and reads back exactly; an abort is never undone by a step's save, and never undoes one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest

from onboarding.adapters.dynamodb.releases import DynamoReleaseStore
from onboarding.contract.release import REASON_LIMIT, FailedTenant, FleetReleaseRequested
from onboarding.fleet import ReleaseState, ReleaseStatus, WaveState
from onboarding_local import attribute_values
from tests.utils.moto_aws import create_template_table, mocked_aws


@pytest.fixture
def store() -> Iterator[DynamoReleaseStore]:
    with mocked_aws("us-east-1"), attribute_values.installed():  # moto's serializer, as the local stack runs it
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_template_table(client, "ReleasesTable")
        yield DynamoReleaseStore("ReleasesTable", client=client)


def test_a_wave_of_ten_thousand_failed_tenants_is_kept_whole(store: DynamoReleaseStore) -> None:
    members = [f"t-tenant-{i:05d}-0123456789" for i in range(10_000)]
    reason = "Flux UpgradeFailed: " + "x" * 5000  # a long Helm message: bounded, never dropped
    wave = WaveState(
        index=0,
        name="basic",
        members=members[:9_990],
        previous=dict.fromkeys(members[:9_990], "1.0.0"),
        copies={t: f"arn:aws:codebuild:eu-west-1:111122223333:build/copy:{t}" for t in members[:9_990]},
        failed=[FailedTenant(tenant_id=t, reason=reason) for t in members],
        copy_failed=[FailedTenant(tenant_id=t, reason="build FAILED") for t in members[9_990:]],
        commit="c1",
        committed_at=datetime(2026, 11, 28, tzinfo=UTC),
    )
    store.save_wave("rel-1", wave)
    back = store.wave("rel-1", 0)
    assert back.members == wave.members and back.previous == wave.previous and back.copies == wave.copies
    assert sorted(f.tenant_id for f in back.failed) == members
    assert [f.tenant_id for f in back.copy_failed] == members[9_990:]
    assert len(back.failed[0].reason) == REASON_LIMIT and back.failed[0].reason.startswith("Flux UpgradeFailed")
    assert (back.commit, back.committed_at) == (wave.commit, wave.committed_at)


def test_saving_a_smaller_wave_over_a_larger_one_reads_back_the_smaller(store: DynamoReleaseStore) -> None:
    store.save_wave("rel-1", WaveState(index=1, name="w", members=[f"t-{i}" for i in range(600)]))
    store.save_wave("rel-1", WaveState(index=1, name="w", members=["t-0", "t-1"]))
    assert store.wave("rel-1", 1).members == ["t-0", "t-1"]


def running_release(release_id: str) -> ReleaseState:
    request = FleetReleaseRequested.from_wire({"releaseId": release_id, "chartVersion": "1.1.0"})
    return ReleaseState(
        release_id=release_id,
        execution=f"rel-{release_id}",
        chart_version="1.1.0",
        request=request,
        created_at=datetime(2026, 11, 28, tzinfo=UTC),
    )


def test_a_step_saving_what_it_read_before_an_abort_keeps_the_abort(store: DynamoReleaseStore) -> None:
    # Given a running release, read by a step (PlanRelease) just before Fleet Release Aborted arrives
    assert store.create(running_release("rel-a"))
    read_before = store.get("rel-a")
    assert read_before is not None and not read_before.aborted
    assert store.mark_aborted("rel-a")
    # When the step saves its own change from what it read
    store.save(read_before.model_copy(update={"announced": True}))
    # Then its change is saved and the release is still aborted: the next wave will not start
    after = store.get("rel-a")
    assert after is not None and after.announced and after.aborted


def test_an_abort_sets_only_its_flag_and_an_unknown_release_is_not_created(store: DynamoReleaseStore) -> None:
    # Given a release whose execution has just saved it HALTED
    assert store.create(running_release("rel-h"))
    halted = store.get("rel-h")
    assert halted is not None
    store.save(halted.model_copy(update={"status": ReleaseStatus.HALTED}))
    # When Fleet Release Aborted arrives for it, and for a release that does not exist
    assert store.mark_aborted("rel-h")
    assert not store.mark_aborted("rel-nope")
    # Then the halted status stays, and nothing was recorded for the unknown one
    after = store.get("rel-h")
    assert after is not None and after.status is ReleaseStatus.HALTED and after.aborted
    assert store.get("rel-nope") is None
