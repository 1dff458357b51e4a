"""Fleet releases on the local stack: the real release state machine, one commit per wave, Flux's verdict from
the emulator, halt and rollback, approvals, aborts, one release at a time."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from onboarding.identity import derive_tenant_id
from onboarding_local.charts import publish_charts
from tests.conftest import REPO, signup_event
from tests.utils.paths import tenant_file

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("release")]
NEW = "1.1.0"
ACCOUNT = "222222222222"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Any]:
    from onboarding_local.stack import LocalStack

    with LocalStack(tmp_path / "stack", parameters={"ReleasePollSeconds": "1", "ReconcileTimeoutSeconds": "20"}) as s:
        charts = tmp_path / "charts" / "tenant"
        shutil.copytree(REPO / "charts" / "tenant", charts)
        meta = yaml.safe_load((charts / "Chart.yaml").read_text(encoding="utf-8"))
        (charts / "Chart.yaml").write_text(yaml.safe_dump({**meta, "version": NEW}), encoding="utf-8")
        s.published_new = lambda: publish_charts(charts.parent, s.release_registry.host, s.workdir)  # type: ignore[attr-defined]
        yield s


def run(stack: Any, *events: dict[str, Any], timeout: float = 180) -> None:
    stack.put_events(list(events))
    stack.wait_idle(timeout)


def release(release_id: str = "rel-1", **detail: Any) -> dict[str, Any]:
    return {"source": "saas.release", "detail-type": "Fleet Release Requested",
            "detail": {"releaseId": release_id, "chartVersion": NEW, **detail}}  # fmt: skip


def events_of(stack: Any, detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in stack.status_events() if e["detail-type"] == detail_type]


def chart_in_git(stack: Any, tenant_id: str) -> str:
    text = stack.git.read(tenant_file(tenant_id)) or stack.git.read(f"remote/{tenant_id}/release.yaml")
    (hr,) = [d for d in yaml.safe_load_all(text) if d["kind"] == "HelmRelease"]
    return str(hr["spec"]["chart"]["spec"]["version"])


def until(stack: Any, detail_type: str, timeout: float = 60) -> dict[str, Any]:
    """Wait for an event while an execution keeps running (an approval wait): wait_idle would not return."""
    import time

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


def test_a_release_rolls_out_over_every_model_in_two_waves_one_commit_each(stack: Any) -> None:
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
    stack.published_new()
    log = stack.git.log()
    run(stack, release(waves=[{"name": "canary", "tenantIds": [ids[0]]}, {"name": "everyone"}]))
    (started,) = events_of(stack, "Fleet Release Started")
    assert started["waves"] == [{"name": "canary", "tenants": 1}, {"name": "everyone", "tenants": 3}]
    new = stack.git.log()[: len(stack.git.log()) - len(log)]
    assert new == [f"Release rel-1: wave everyone to chart {NEW} (3 tenants)",
                   f"Release rel-1: wave canary to chart {NEW} (1 tenants)"]  # fmt: skip
    for t in ids:
        record = stack.tenant(t)
        assert record["chartVersion"] == NEW == chart_in_git(stack, t) and record["releaseId"] == "rel-1"
        assert record["history"][-1]["operation"] == "release" and "lock" not in record
    assert [w["wave"] for w in events_of(stack, "Fleet Release Wave Completed")] == ["canary", "everyone"]
    (completed,) = events_of(stack, "Fleet Release Completed")
    assert completed == {**completed, "chartVersion": NEW, "tenants": 4}
    # a tenant onboarded after the release completed starts on it
    (late,) = onboard(stack, signup_event("rel-late", "Rel Late"))
    assert stack.tenant(late)["chartVersion"] == NEW == chart_in_git(stack, late)
    # a duplicate delivery of the request starts nothing more
    run(stack, release())
    assert len(events_of(stack, "Fleet Release Started")) == 1


def test_a_failed_canary_halts_rolls_back_and_the_next_wave_never_starts(stack: Any) -> None:
    canary, other = onboard(stack, signup_event("c-1", "Canary One"), signup_event("c-2", "Canary Two"))
    stack.published_new()
    stack.flux.fail_next(canary, "UpgradeFailed", "Helm upgrade failed: deployments.apps exceeded quota")
    run(stack, release(waves=[{"name": "canary", "tenantIds": [canary]}, {"name": "rest"}]))
    (halted,) = events_of(stack, "Fleet Release Halted")
    assert halted["wave"] == "canary" and halted["rolledBack"] == [canary]
    assert halted["failed"][0]["tenantId"] == canary and "exceeded quota" in halted["failed"][0]["reason"]
    old = stack.tenant(other)["chartVersion"]
    for t in (canary, other):
        assert chart_in_git(stack, t) == stack.tenant(t)["chartVersion"] == old != NEW
    assert not events_of(stack, "Fleet Release Completed")


def test_halt_without_rollback_leaves_the_wave_on_the_new_version_named_by_its_record(stack: Any) -> None:
    (tenant,) = onboard(stack, signup_event("h-1", "Halt One"))
    stack.published_new()
    stack.flux.fail_next(tenant, "UpgradeFailed", "boom")
    run(stack, release(onFailure="halt"))
    (halted,) = events_of(stack, "Fleet Release Halted")
    assert halted["rolledBack"] == [] and chart_in_git(stack, tenant) == stack.tenant(tenant)["chartVersion"] == NEW


def test_tolerated_failures_let_the_release_complete(stack: Any) -> None:
    ok, bad = onboard(stack, signup_event("m-1", "Max One"), signup_event("m-2", "Max Two"))
    stack.published_new()
    stack.flux.fail_next(bad, "UpgradeFailed", "boom")
    run(stack, release(waves=[{"name": "all"}], maxFailures=1))
    (wave,) = events_of(stack, "Fleet Release Wave Completed")
    assert (wave["succeeded"], wave["failed"]) == (1, 1) and events_of(stack, "Fleet Release Completed")
    assert stack.tenant(ok)["chartVersion"] == NEW == chart_in_git(stack, ok)
    assert stack.tenant(bad)["chartVersion"] == chart_in_git(stack, bad) != NEW


def test_an_unpublished_version_an_invalid_request_and_a_second_release_are_rejected(stack: Any) -> None:
    onboard(stack, signup_event("u-1", "Unpub One"))
    run(stack, release("rel-u"))  # 1.1.0 is not published yet
    run(stack, release("rel-bad", chartVersion="1.x"))
    errors = [e["errors"][0] for e in events_of(stack, "Fleet Release Rejected")]
    assert [e["field"] for e in errors] == ["chartVersion", "chartVersion"] and "not published" in errors[0]["message"]
    stack.published_new()
    stack.put_events([release("rel-a", waves=[{"name": "gate", "approval": True}])])
    assert until(stack, "Fleet Release Awaiting Approval") == {**until(stack, "Fleet Release Awaiting Approval"),
                                                                "releaseId": "rel-a", "wave": "gate"}  # fmt: skip
    stack.put_events([release("rel-b")])  # while rel-a waits for its approval
    rejected = until(stack, "Fleet Release Rejected")
    while rejected["releaseId"] != "rel-b":
        rejected = until(stack, "Fleet Release Rejected")
    assert "rel-a is running" in rejected["errors"][0]["message"]
    run(stack, {"source": "saas.release", "detail-type": "Fleet Release Approved",
                "detail": {"releaseId": "rel-a", "wave": "gate"}})  # fmt: skip
    assert events_of(stack, "Fleet Release Completed")[0]["releaseId"] == "rel-a"


def test_an_abort_stops_after_the_current_wave(stack: Any) -> None:
    a, b = onboard(stack, signup_event("ab-1", "Abort One"), signup_event("ab-2", "Abort Two"))
    stack.published_new()
    stack.put_events([release(waves=[{"name": "first", "tenantIds": [a], "approval": True}, {"name": "second"}])])
    until(stack, "Fleet Release Awaiting Approval")
    run(stack, {"source": "saas.release", "detail-type": "Fleet Release Aborted", "detail": {"releaseId": "rel-1"}},
        {"source": "saas.release", "detail-type": "Fleet Release Approved",
         "detail": {"releaseId": "rel-1", "wave": "first"}})  # fmt: skip
    assert stack.tenant(a)["chartVersion"] == NEW
    assert stack.tenant(b)["chartVersion"] != NEW and chart_in_git(stack, b) != NEW
    assert not events_of(stack, "Fleet Release Completed")
    assert json.dumps(events_of(stack, "Fleet Release Halted"))
