"""Fleet releases on the local stack: the real release state machine, one commit per wave, Flux's verdict from
the emulator, halt and rollback, approvals, aborts, one release at a time.

One stack for the module (tests/utils/scoped_stack.py). Each test releases a chart version of its own under
release ids of its own, and its tenants are offboarded when it ends (tests/utils/fleet.py), so each release's
fleet is exactly the tenants its test onboarded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from onboarding.identity import derive_tenant_id
from tests.conftest import signup_event
from tests.utils.fleet import NewChart, chart_in_git, events_of, releasing, run
from tests.utils.scoped_stack import ScopedStack

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("release")]
ACCOUNT = "222222222222"


@pytest.fixture(scope="module")
def module_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from onboarding_local.stack import LocalStack

    parameters = {"ReleasePollSeconds": "1", "ReconcileTimeoutSeconds": "20"}
    with LocalStack(tmp_path_factory.mktemp("release") / "stack", parameters=parameters) as running:
        yield running


@pytest.fixture
def stack(scoped_stack: ScopedStack) -> Iterator[ScopedStack]:
    with releasing(scoped_stack) as view:
        yield view


@pytest.fixture
def new(stack: ScopedStack, tmp_path: Path) -> NewChart:
    """The chart version this test releases (not published yet)."""
    return NewChart.make(stack, tmp_path)


def until(stack: Any, detail_type: str, timeout: float = 60) -> dict[str, Any]:
    """Wait for an event while an execution keeps running (an approval wait): wait_idle would not return."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := events_of(stack, detail_type):
            return found[-1]
        time.sleep(0.2)
    raise TimeoutError(f"no {detail_type} within {timeout:.0f} s")


def onboard(stack: Any, *signups: dict[str, Any]) -> list[str]:
    run(stack, *signups)
    ids = [derive_tenant_id(s["detail"]["signupId"]) for s in signups]
    assert all(stack.tenant(t)["status"] == "ACTIVE" for t in ids)
    return ids


def test_a_release_rolls_out_over_every_model_in_two_waves_one_commit_each(stack: ScopedStack, new: NewChart) -> None:
    hybrid = {"nodeCidrs": ["192.168.10.0/24"], "podCidrs": ["192.168.128.0/20"], "nodeCount": 1,
              "supportingServices": "bundled"}  # fmt: skip
    tenant_id = derive_tenant_id("rel-remote")
    stack.bootstrap_tenant_account(ACCOUNT, tenant_id)
    ids = onboard(
        stack,
        signup_event("rel-pooled", "Rel Pooled"),
        signup_event("rel-siloed", "Rel Siloed", tier="premium"),
        signup_event("rel-remote", "Rel Remote", tier="advanced", deploymentModel="remote", awsAccountId=ACCOUNT,
                     region="eu-west-1"),
        signup_event("rel-hybrid", "Rel Hybrid", tier="advanced", deploymentModel="hybrid", hybrid=hybrid),
    )  # fmt: skip
    new.publish()
    onboarded = len(stack.new_commits())
    run(stack, new.release("rollout-1", waves=[{"name": "canary", "tenantIds": [ids[0]]}, {"name": "everyone"}]))
    (started,) = events_of(stack, "Fleet Release Started")
    assert started["waves"] == [{"name": "canary", "tenants": 1}, {"name": "everyone", "tenants": 3}]
    assert stack.new_commits()[: len(stack.new_commits()) - onboarded] == [
        f"Release rollout-1: wave everyone to chart {new.version} (3 tenants)",
        f"Release rollout-1: wave canary to chart {new.version} (1 tenants)",
    ]
    for t in ids:
        record = stack.tenant(t)
        assert record["chartVersion"] == new.version == chart_in_git(stack, t) and record["releaseId"] == "rollout-1"
        assert record["history"][-1]["operation"] == "release" and "lock" not in record
    assert [w["wave"] for w in events_of(stack, "Fleet Release Wave Completed")] == ["canary", "everyone"]
    (completed,) = events_of(stack, "Fleet Release Completed")
    assert completed == {**completed, "chartVersion": new.version, "tenants": 4}
    # a tenant onboarded after the release completed starts on it
    (late,) = onboard(stack, signup_event("rel-late", "Rel Late"))
    assert stack.tenant(late)["chartVersion"] == new.version == chart_in_git(stack, late)
    # a duplicate delivery of the request starts nothing more
    run(stack, new.release("rollout-1"))
    assert len(events_of(stack, "Fleet Release Started")) == 1


def test_a_failed_canary_halts_rolls_back_and_the_next_wave_never_starts(stack: ScopedStack, new: NewChart) -> None:
    canary, other = onboard(stack, signup_event("c-1", "Canary One"), signup_event("c-2", "Canary Two"))
    new.publish()
    stack.flux.fail_next(canary, "UpgradeFailed", "Helm upgrade failed: deployments.apps exceeded quota")
    run(stack, new.release("canary-1", waves=[{"name": "canary", "tenantIds": [canary]}, {"name": "rest"}]))
    (halted,) = events_of(stack, "Fleet Release Halted")
    assert halted["wave"] == "canary" and halted["rolledBack"] == [canary]
    assert halted["failed"][0]["tenantId"] == canary and "exceeded quota" in halted["failed"][0]["reason"]
    old = stack.tenant(other)["chartVersion"]
    for t in (canary, other):
        assert chart_in_git(stack, t) == stack.tenant(t)["chartVersion"] == old != new.version
    assert not events_of(stack, "Fleet Release Completed")


def test_halt_without_rollback_leaves_the_wave_on_the_new_version_named_by_its_record(
    stack: ScopedStack, new: NewChart
) -> None:
    (tenant,) = onboard(stack, signup_event("h-1", "Halt One"))
    new.publish()
    stack.flux.fail_next(tenant, "UpgradeFailed", "boom")
    run(stack, new.release("halt-1", onFailure="halt"))
    (halted,) = events_of(stack, "Fleet Release Halted")
    assert halted["rolledBack"] == [] and chart_in_git(stack, tenant) == stack.tenant(tenant)["chartVersion"]
    assert stack.tenant(tenant)["chartVersion"] == new.version


def test_tolerated_failures_let_the_release_complete(stack: ScopedStack, new: NewChart) -> None:
    ok, bad = onboard(stack, signup_event("m-1", "Max One"), signup_event("m-2", "Max Two"))
    new.publish()
    stack.flux.fail_next(bad, "UpgradeFailed", "boom")
    run(stack, new.release("tolerated-1", waves=[{"name": "all"}], maxFailures=1))
    (wave,) = events_of(stack, "Fleet Release Wave Completed")
    assert (wave["succeeded"], wave["failed"]) == (1, 1) and events_of(stack, "Fleet Release Completed")
    assert stack.tenant(ok)["chartVersion"] == new.version == chart_in_git(stack, ok)
    assert stack.tenant(bad)["chartVersion"] == chart_in_git(stack, bad) != new.version


def test_an_unpublished_version_an_invalid_request_and_a_second_release_are_rejected(
    stack: ScopedStack, new: NewChart
) -> None:
    onboard(stack, signup_event("u-1", "Unpub One"))
    run(stack, new.release("rel-u"))  # the new version is not published yet
    run(stack, new.release("rel-bad", chartVersion="1.x"))
    errors = [e["errors"][0] for e in events_of(stack, "Fleet Release Rejected")]
    assert [e["field"] for e in errors] == ["chartVersion", "chartVersion"] and "not published" in errors[0]["message"]
    new.publish()
    stack.put_events([new.release("rel-a", waves=[{"name": "gate", "approval": True}])])
    assert until(stack, "Fleet Release Awaiting Approval") == {**until(stack, "Fleet Release Awaiting Approval"),
                                                                "releaseId": "rel-a", "wave": "gate"}  # fmt: skip
    stack.put_events([new.release("rel-b")])  # while rel-a waits for its approval
    rejected = until(stack, "Fleet Release Rejected")
    while rejected["releaseId"] != "rel-b":
        rejected = until(stack, "Fleet Release Rejected")
    assert "rel-a is running" in rejected["errors"][0]["message"]
    run(stack, {"source": "saas.release", "detail-type": "Fleet Release Approved",
                "detail": {"releaseId": "rel-a", "wave": "gate"}})  # fmt: skip
    assert events_of(stack, "Fleet Release Completed")[0]["releaseId"] == "rel-a"


def test_an_abort_stops_after_the_current_wave(stack: ScopedStack, new: NewChart) -> None:
    a, b = onboard(stack, signup_event("ab-1", "Abort One"), signup_event("ab-2", "Abort Two"))
    new.publish()
    waves = [{"name": "first", "tenantIds": [a], "approval": True}, {"name": "second"}]
    stack.put_events([new.release("abort-1", waves=waves)])
    until(stack, "Fleet Release Awaiting Approval")
    run(stack, {"source": "saas.release", "detail-type": "Fleet Release Aborted", "detail": {"releaseId": "abort-1"}},
        {"source": "saas.release", "detail-type": "Fleet Release Approved",
         "detail": {"releaseId": "abort-1", "wave": "first"}})  # fmt: skip
    assert stack.tenant(a)["chartVersion"] == new.version
    assert stack.tenant(b)["chartVersion"] != new.version and chart_in_git(stack, b) != new.version
    assert not events_of(stack, "Fleet Release Completed")
    assert json.dumps(events_of(stack, "Fleet Release Halted"))
