"""Fleet releases on the local stack, the harder cases: a release with images copied into a remote tenant's ECR
(by the real buildspec, with skopeo), a copy that fails, an approval that never comes, a tenant locked by a
lifecycle operation, and a tenant onboarded while the release runs."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from onboarding.identity import derive_tenant_id
from onboarding_local.charts import publish_charts
from onboarding_local.registry import seed_release
from tests.conftest import REPO, signup_event
from tests.utils.paths import tenant_file

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("release-cases")]
NEW = "1.1.0"
ACCOUNT = "222222222222"


@pytest.fixture
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    from onboarding_local.stack import LocalStack

    parameters = {"ReleasePollSeconds": "1", "ReconcileTimeoutSeconds": "30", "ApprovalTimeoutSeconds": "600",
                  **getattr(request, "param", {})}  # fmt: skip
    with LocalStack(tmp_path / "stack", parameters=parameters) as s:
        charts = tmp_path / "charts" / "tenant"
        shutil.copytree(REPO / "charts" / "tenant", charts)
        meta = yaml.safe_load((charts / "Chart.yaml").read_text(encoding="utf-8"))
        (charts / "Chart.yaml").write_text(yaml.safe_dump({**meta, "version": NEW}), encoding="utf-8")
        publish_charts(charts.parent, s.release_registry.host, s.workdir)
        yield s


def run(stack: Any, *events: dict[str, Any], timeout: float = 180) -> None:
    stack.put_events(list(events))
    stack.wait_idle(timeout)


def release(release_id: str = "rel-1", **detail: Any) -> dict[str, Any]:
    return {"source": "saas.release", "detail-type": "Fleet Release Requested",
            "detail": {"releaseId": release_id, "chartVersion": NEW, **detail}}  # fmt: skip


def events_of(stack: Any, detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in stack.status_events() if e["detail-type"] == detail_type]


def until(what: Any, timeout: float = 60) -> Any:
    """Wait for ``what()`` to be truthy while executions keep running (wait_idle would not return)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := what():
            return found
        time.sleep(0.2)
    raise TimeoutError(f"nothing within {timeout:.0f} s")


def helm_release(stack: Any, tenant_id: str) -> dict[str, Any]:
    text = stack.git.read(tenant_file(tenant_id)) or stack.git.read(f"remote/{tenant_id}/release.yaml")
    (hr,) = [d for d in yaml.safe_load_all(text) if d["kind"] == "HelmRelease"]
    return dict(hr)


def chart_in_git(stack: Any, tenant_id: str) -> str:
    return str(helm_release(stack, tenant_id)["spec"]["chart"]["spec"]["version"])


def api_in_git(stack: Any, tenant_id: str) -> str:
    return str(helm_release(stack, tenant_id)["spec"]["values"]["images"]["api"]["image"])


def new_api_image(stack: Any, tmp: Path, version: str) -> dict[str, str]:
    """A new build of the api image, pushed to the provider's release registry: what CI would publish."""
    (image,) = seed_release(stack.release_registry, tmp / f"images-{version}", version, ("api",))
    return {"name": "api", "sourceRepository": image.repository, "digest": image.digest}


def test_a_release_with_images_copies_them_into_the_remote_tenants_ecr_and_a_failed_copy_halts_it(
    stack: Any, tmp_path: Path
) -> None:
    remote = derive_tenant_id("img-remote")
    stack.bootstrap_tenant_account(ACCOUNT, remote)
    run(stack, signup_event("img-pooled", "Img Pooled"),
        signup_event("img-remote", "Img Remote", tier="advanced", deploymentModel="remote", awsAccountId=ACCOUNT,
                     region="eu-west-1"))  # fmt: skip
    pooled = derive_tenant_id("img-pooled")
    assert stack.tenant(pooled)["status"] == stack.tenant(remote)["status"] == "ACTIVE"
    api = new_api_image(stack, tmp_path, "2.0.0")
    run(stack, release(images=[api], waves=[{"name": "all"}]))
    (completed,) = events_of(stack, "Fleet Release Completed")
    assert completed == {**completed, "releaseId": "rel-1", "tenants": 2, "deferred": []}
    # the remote tenant runs its own copy, by digest, from its own ECR; the pooled one the provider's
    assert stack.tenant_registry.manifest_digest(f"{remote}/api", api["digest"]) == api["digest"]
    assert api_in_git(stack, remote).endswith(f"/{remote}/api@{api['digest']}")
    assert api_in_git(stack, pooled) == f"{api['sourceRepository']}@{api['digest']}"
    for tenant_id in (pooled, remote):
        record = stack.tenant(tenant_id)
        (recorded,) = [i for i in record["images"] if i["name"] == "api"]
        assert recorded["digest"] == api["digest"] and record["chartVersion"] == NEW and record["releaseId"] == "rel-1"
    # a second release whose copy fails: the remote tenant is not moved, the pooled one is rolled back
    second = new_api_image(stack, tmp_path, "2.0.1")
    stack.codebuild.fail_next = 1
    run(stack, release("rel-2", images=[second], waves=[{"name": "all"}]))
    (halted,) = events_of(stack, "Fleet Release Halted")
    assert [f["tenantId"] for f in halted["failed"]] == [remote] and halted["rolledBack"] == [pooled]
    assert "image copy: build" in halted["failed"][0]["reason"] and "FAILED" in halted["failed"][0]["reason"]
    for tenant_id in (pooled, remote):  # record and git agree, on the first release's image
        (recorded,) = [i for i in stack.tenant(tenant_id)["images"] if i["name"] == "api"]
        assert recorded["digest"] == api["digest"] and api_in_git(stack, tenant_id).endswith(api["digest"])
        assert "lock" not in stack.tenant(tenant_id)


@pytest.mark.parametrize("stack", [{"ApprovalTimeoutSeconds": "5"}], indirect=True)
def test_an_approval_that_never_comes_stops_the_release_after_its_wave(stack: Any) -> None:
    run(stack, signup_event("ap-1", "Approve One"), signup_event("ap-2", "Approve Two"))
    first, second = derive_tenant_id("ap-1"), derive_tenant_id("ap-2")
    run(stack, release(waves=[{"name": "first", "tenantIds": [first], "approval": True}, {"name": "second"}]))
    (awaited,) = events_of(stack, "Fleet Release Awaiting Approval")
    assert (awaited["releaseId"], awaited["wave"]) == ("rel-1", "first")
    (halted,) = events_of(stack, "Fleet Release Halted")
    assert halted["wave"] == "first" and not events_of(stack, "Fleet Release Completed")
    assert stack.tenant(first)["chartVersion"] == NEW == chart_in_git(stack, first)  # its wave had passed
    assert stack.tenant(second)["chartVersion"] == chart_in_git(stack, second) != NEW
    # one release at a time was given back: the next release runs
    run(stack, release("rel-2", waves=[{"name": "rest", "tenantIds": [second]}]))
    assert events_of(stack, "Fleet Release Completed")[0]["releaseId"] == "rel-2"


def test_a_tenant_locked_by_an_operation_is_deferred_and_a_tenant_onboarded_meanwhile_starts_on_the_release(
    stack: Any,
) -> None:
    run(stack, signup_event("lk-1", "Locked One"), signup_event("lk-2", "Locked Two"))
    first, busy = derive_tenant_id("lk-1"), derive_tenant_id("lk-2")
    before = stack.tenant(busy)["chartVersion"]
    stack.put_events([release(waves=[{"name": "first", "tenantIds": [first], "approval": True}, {"name": "second"}])])
    until(lambda: events_of(stack, "Fleet Release Awaiting Approval"))
    # onboarded while the release waits: it starts on the release's chart version
    stack.put_events([signup_event("lk-late", "Locked Late")])
    late = derive_tenant_id("lk-late")
    until(lambda: (stack.tenant(late) or {}).get("status") == "ACTIVE")
    assert stack.tenant(late)["chartVersion"] == NEW == chart_in_git(stack, late)
    # a suspend holds the tenant's lock while Flux is silent: the release's wave, and its last wave, defer it
    stack.flux.paused = True
    stack.put_events([{"source": "saas.signup", "detail-type": "Tenant Suspend Requested",
                       "detail": {"tenantId": busy, "operationId": f"op-{uuid.uuid4().hex[:8]}"}}])  # fmt: skip
    until(lambda: "lock" in (stack.tenant(busy) or {}))
    stack.put_events([{"source": "saas.release", "detail-type": "Fleet Release Approved",
                       "detail": {"releaseId": "rel-1", "wave": "first"}}])  # fmt: skip
    (completed,) = until(lambda: events_of(stack, "Fleet Release Completed"))
    assert completed["deferred"] == [busy] and completed["tenants"] == 1
    stack.flux.paused = False
    stack.wait_idle(120)
    record = stack.tenant(busy)
    assert record["status"] == "SUSPENDED" and "lock" not in record
    assert record["chartVersion"] == before == chart_in_git(stack, busy)  # named by its record and by git alike
    assert stack.tenant(first)["chartVersion"] == NEW


def test_a_release_execution_stopped_mid_release_blocks_nothing_and_its_tenant_is_put_back(stack: Any) -> None:
    from onboarding.fleet import release_execution_name
    from onboarding_local.agreement import Inspector

    # Given a release whose wave committed (its tenant locked and moved in git), waiting for Flux's verdict
    run(stack, signup_event("st-1", "Stopped One"))
    tenant = derive_tenant_id("st-1")
    before = stack.tenant(tenant)["chartVersion"]
    stack.flux.paused = True
    stack.put_events([release(waves=[{"name": "only", "tenantIds": [tenant]}])])
    until(lambda: "lock" in (stack.tenant(tenant) or {}) and chart_in_git(stack, tenant) == NEW)
    assert stack.tenant(tenant)["lock"]["execution"] == release_execution_name("rel-1")
    # When an operator stops it in the console: FailRelease never runs, the claim and the lock stay
    sfn = stack.client("stepfunctions")
    (execution,) = [e["executionArn"] for m in sfn.list_state_machines()["stateMachines"]
                    for e in sfn.list_executions(stateMachineArn=m["stateMachineArn"])["executions"]
                    if e["name"] == release_execution_name("rel-1")]  # fmt: skip
    sfn.stop_execution(executionArn=execution, error="Operator", cause="stopped in the console")
    stack.flux.paused = False
    stack.wait_idle(120)
    assert stack.tenant(tenant)["lock"]["execution"] == release_execution_name("rel-1")
    # Then the next release is accepted: the stopped one is ended truthfully, its tenant put back first
    run(stack, release("rel-2", waves=[{"name": "all"}]))
    (halted,) = events_of(stack, "Fleet Release Halted")
    assert halted["releaseId"] == "rel-1" and halted["rolledBack"] == [tenant]
    status = sfn.describe_execution(executionArn=execution)["status"]  # ABORTED on AWS; moto's engine says FAILED
    assert status != "RUNNING" and halted["failed"][0]["reason"] == f"execution ended without finishing: {status}"
    assert not events_of(stack, "Fleet Release Rejected")
    assert [c["releaseId"] for c in events_of(stack, "Fleet Release Completed")] == ["rel-2"]
    assert any(before in (h.get("detail") or "") and status in (h.get("detail") or "")
               for h in stack.tenant(tenant)["history"])  # fmt: skip
    assert stack.tenant(tenant)["chartVersion"] == NEW == chart_in_git(stack, tenant)
    # and a lifecycle operation on that tenant succeeds
    run(stack, {"source": "saas.signup", "detail-type": "Tenant Suspend Requested",
                "detail": {"tenantId": tenant, "operationId": f"op-{uuid.uuid4().hex[:8]}"}})  # fmt: skip
    record = stack.tenant(tenant)
    assert record["status"] == "SUSPENDED" and "lock" not in record
    assert Inspector(stack).check([tenant])[tenant].all() == []
