"""Fleet releases on the local stack, the harder cases: a release with images copied into a remote tenant's ECR
(by the real buildspec, with skopeo), a copy that fails, a tenant locked by a lifecycle operation, a tenant
onboarded while the release runs, and a release execution stopped mid-release.

One stack for the module (tests/utils/scoped_stack.py). Each test releases a chart version of its own under
release ids of its own, and its tenants are offboarded when it ends (tests/utils/fleet.py), so each release's
fleet is exactly the tenants its test onboarded. The approval that never comes needs a stack whose approvals time
out within seconds: it is in test_release_cases_runs.py."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from onboarding.identity import derive_tenant_id
from onboarding_local.registry import seed_release
from tests.conftest import signup_event
from tests.utils.fleet import NewChart, chart_in_git, events_of, helm_release, releasing, run
from tests.utils.scoped_stack import ScopedStack

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("release-cases")]
ACCOUNT = "222222222222"


@pytest.fixture(scope="module")
def module_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from onboarding_local.stack import LocalStack

    parameters = {"ReleasePollSeconds": "1", "ReconcileTimeoutSeconds": "30", "ApprovalTimeoutSeconds": "600"}
    with LocalStack(tmp_path_factory.mktemp("release-cases") / "stack", parameters=parameters) as running:
        yield running


@pytest.fixture
def stack(scoped_stack: ScopedStack) -> Iterator[ScopedStack]:
    with releasing(scoped_stack) as view:
        yield view


@pytest.fixture
def new(stack: ScopedStack, tmp_path: Path) -> NewChart:
    """The chart version this test releases, published."""
    chart = NewChart.make(stack, tmp_path)
    chart.publish()
    return chart


def until(what: Any, timeout: float = 60) -> Any:
    """Wait for ``what()`` to be truthy while executions keep running (wait_idle would not return)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := what():
            return found
        time.sleep(0.2)
    raise TimeoutError(f"nothing within {timeout:.0f} s")


def api_in_git(stack: Any, tenant_id: str) -> str:
    return str(helm_release(stack, tenant_id)["spec"]["values"]["images"]["api"]["image"])


def new_api_image(stack: Any, tmp: Path, version: str) -> dict[str, str]:
    """A new build of the api image, pushed to the provider's release registry: what CI would publish."""
    (image,) = seed_release(stack.release_registry, tmp / f"images-{version}", version, ("api",))
    return {"name": "api", "sourceRepository": image.repository, "digest": image.digest}


def test_a_release_with_images_copies_them_into_the_remote_tenants_ecr_and_a_failed_copy_halts_it(
    stack: ScopedStack, new: NewChart, tmp_path: Path
) -> None:
    remote = derive_tenant_id("img-remote")
    stack.bootstrap_tenant_account(ACCOUNT, remote)
    run(stack, signup_event("img-pooled", "Img Pooled"),
        signup_event("img-remote", "Img Remote", tier="advanced", deploymentModel="remote", awsAccountId=ACCOUNT,
                     region="eu-west-1"))  # fmt: skip
    pooled = derive_tenant_id("img-pooled")
    assert stack.tenant(pooled)["status"] == stack.tenant(remote)["status"] == "ACTIVE"
    api = new_api_image(stack, tmp_path, "2.0.0")
    run(stack, new.release("img-1", images=[api], waves=[{"name": "all"}]))
    (completed,) = events_of(stack, "Fleet Release Completed")
    assert completed == {**completed, "releaseId": "img-1", "tenants": 2, "deferred": []}
    # the remote tenant runs its own copy, by digest, from its own ECR; the pooled one the provider's
    assert stack.tenant_registry.manifest_digest(f"{remote}/api", api["digest"]) == api["digest"]
    assert api_in_git(stack, remote).endswith(f"/{remote}/api@{api['digest']}")
    assert api_in_git(stack, pooled) == f"{api['sourceRepository']}@{api['digest']}"
    for tenant_id in (pooled, remote):
        record = stack.tenant(tenant_id)
        (recorded,) = [i for i in record["images"] if i["name"] == "api"]
        assert (
            recorded["digest"] == api["digest"]
            and record["chartVersion"] == new.version
            and record["releaseId"] == "img-1"
        )
    # a second release whose copy fails: the remote tenant is not moved, the pooled one is rolled back
    second = new_api_image(stack, tmp_path, "2.0.1")
    stack.codebuild.fail_next = 1
    run(stack, new.release("img-2", images=[second], waves=[{"name": "all"}]))
    (halted,) = events_of(stack, "Fleet Release Halted")
    assert [f["tenantId"] for f in halted["failed"]] == [remote] and halted["rolledBack"] == [pooled]
    assert "image copy: build" in halted["failed"][0]["reason"] and "FAILED" in halted["failed"][0]["reason"]
    for tenant_id in (pooled, remote):  # record and git agree, on the first release's image
        (recorded,) = [i for i in stack.tenant(tenant_id)["images"] if i["name"] == "api"]
        assert recorded["digest"] == api["digest"] and api_in_git(stack, tenant_id).endswith(api["digest"])
        assert "lock" not in stack.tenant(tenant_id)


def test_a_tenant_locked_by_an_operation_is_deferred_and_a_tenant_onboarded_meanwhile_starts_on_the_release(
    stack: ScopedStack, new: NewChart
) -> None:
    run(stack, signup_event("lk-1", "Locked One"), signup_event("lk-2", "Locked Two"))
    first, busy = derive_tenant_id("lk-1"), derive_tenant_id("lk-2")
    before = stack.tenant(busy)["chartVersion"]
    waves = [{"name": "first", "tenantIds": [first], "approval": True}, {"name": "second"}]
    stack.put_events([new.release("lock-1", waves=waves)])
    until(lambda: events_of(stack, "Fleet Release Awaiting Approval"))
    # onboarded while the release waits: it starts on the release's chart version
    stack.put_events([signup_event("lk-late", "Locked Late")])
    late = derive_tenant_id("lk-late")
    until(lambda: (stack.tenant(late) or {}).get("status") == "ACTIVE")
    assert stack.tenant(late)["chartVersion"] == new.version == chart_in_git(stack, late)
    # a suspend holds the tenant's lock while Flux is silent: the release's wave, and its last wave, defer it
    stack.flux.paused = True
    stack.put_events([{"source": "saas.signup", "detail-type": "Tenant Suspend Requested",
                       "detail": {"tenantId": busy, "operationId": f"op-{uuid.uuid4().hex[:8]}"}}])  # fmt: skip
    until(lambda: "lock" in (stack.tenant(busy) or {}))
    stack.put_events([{"source": "saas.release", "detail-type": "Fleet Release Approved",
                       "detail": {"releaseId": "lock-1", "wave": "first"}}])  # fmt: skip
    (completed,) = until(lambda: events_of(stack, "Fleet Release Completed"))
    assert completed["deferred"] == [busy] and completed["tenants"] == 1
    stack.flux.paused = False
    stack.wait_idle(120)
    record = stack.tenant(busy)
    assert record["status"] == "SUSPENDED" and "lock" not in record
    assert record["chartVersion"] == before == chart_in_git(stack, busy)  # named by its record and by git alike
    assert stack.tenant(first)["chartVersion"] == new.version


def test_a_release_execution_stopped_mid_release_blocks_nothing_and_its_tenant_is_put_back(
    stack: ScopedStack, new: NewChart
) -> None:
    from onboarding.fleet import release_execution_name
    from onboarding_local.agreement import Inspector

    # Given a release whose wave committed (its tenant locked and moved in git), waiting for Flux's verdict
    run(stack, signup_event("st-1", "Stopped One"))
    tenant = derive_tenant_id("st-1")
    before = stack.tenant(tenant)["chartVersion"]
    stack.flux.paused = True
    stack.put_events([new.release("stop-1", waves=[{"name": "only", "tenantIds": [tenant]}])])
    until(lambda: "lock" in (stack.tenant(tenant) or {}) and chart_in_git(stack, tenant) == new.version)
    assert stack.tenant(tenant)["lock"]["execution"] == release_execution_name("stop-1")
    # When an operator stops it in the console: FailRelease never runs, the claim and the lock stay
    sfn = stack.client("stepfunctions")
    (execution,) = [arn for arn in stack.execution_arns("ReleaseStateMachine")
                    if arn.rsplit(":", 1)[-1] == release_execution_name("stop-1")]  # fmt: skip
    sfn.stop_execution(executionArn=execution, error="Operator", cause="stopped in the console")
    stack.flux.paused = False
    stack.wait_idle(120)
    assert stack.tenant(tenant)["lock"]["execution"] == release_execution_name("stop-1")
    # Then the next release is accepted: the stopped one is ended truthfully, its tenant put back first
    run(stack, new.release("stop-2", waves=[{"name": "all"}]))
    (halted,) = events_of(stack, "Fleet Release Halted")
    assert halted["releaseId"] == "stop-1" and halted["rolledBack"] == [tenant]
    status = sfn.describe_execution(executionArn=execution)["status"]  # ABORTED on AWS; moto's engine says FAILED
    assert status != "RUNNING" and halted["failed"][0]["reason"] == f"execution ended without finishing: {status}"
    assert not events_of(stack, "Fleet Release Rejected")
    assert [c["releaseId"] for c in events_of(stack, "Fleet Release Completed")] == ["stop-2"]
    assert any(before in (h.get("detail") or "") and status in (h.get("detail") or "")
               for h in stack.tenant(tenant)["history"])  # fmt: skip
    assert stack.tenant(tenant)["chartVersion"] == new.version == chart_in_git(stack, tenant)
    # and a lifecycle operation on that tenant succeeds
    run(stack, {"source": "saas.signup", "detail-type": "Tenant Suspend Requested",
                "detail": {"tenantId": tenant, "operationId": f"op-{uuid.uuid4().hex[:8]}"}})  # fmt: skip
    record = stack.tenant(tenant)
    assert record["status"] == "SUSPENDED" and "lock" not in record
    assert Inspector(stack).check([tenant])[tenant].all() == []
