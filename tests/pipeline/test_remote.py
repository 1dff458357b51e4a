"""Remote tenants on the real state machine: the customer's account, its ECR, the CodeBuild copy, callbacks.

The module's tests share one local stack (tests/utils/scoped_stack.py), each with a customer account of its own
(``accounts``), so the repositories a test lists are its tenant's alone; each sees only the builds that ran since
it began (``RemoteStack``). The run that needs a build timeout of its own is in test_remote_runs.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from onboarding.identity import derive_tenant_id
from onboarding_local.codebuild import BuildOutcome
from tests.utils.operations import events_of, run
from tests.utils.paths import has_no_cluster_file
from tests.utils.remote import REGION, remote_signup, repositories, tenant_ecr
from tests.utils.scoped_stack import ScopedStack

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("remote")]

# One customer account per test: a test lists every repository in its tenant's account.
ACCOUNTS = {
    "happy": "222222220001",
    "dup": "222222220002",
    "norole": "222222220003",
    "extid": "222222220004",
    "fail": "222222220005",
    "mixed": "222222220006",
    "redrive": "222222220007",
}


class RemoteStack:
    """The module's stack as one test sees it (a ``ScopedStack``), with the CodeBuild builds since it began."""

    def __init__(self, view: ScopedStack) -> None:
        self._view = view
        self._builds = set(view.codebuild.builds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)

    def builds(self) -> dict[str, BuildOutcome]:
        return {k: v for k, v in self._view.codebuild.builds.items() if k not in self._builds}


@pytest.fixture
def stack(scoped_stack: ScopedStack) -> Iterator[RemoteStack]:
    try:
        yield RemoteStack(scoped_stack)
    finally:  # a build failure or a lost build event a failed test did not use is not the next test's
        scoped_stack.codebuild.fail_next = scoped_stack.codebuild.drop_events = 0


def onboarded(stack: Any, account: str, signup_id: str) -> str:
    tenant_id = derive_tenant_id(signup_id)
    stack.bootstrap_tenant_account(account, tenant_id)
    run(stack, remote_signup(signup_id, f"Remote {signup_id}", account))
    return tenant_id


def test_remote_happy_path(stack: RemoteStack) -> None:
    account = ACCOUNTS["happy"]
    tenant_id = onboarded(stack, account, "rm-1")
    record = stack.tenant(tenant_id)
    assert record["status"] == "ACTIVE" and record["awsAccountId"] == account and record["region"] == REGION
    release = {i.name: i for i in stack.release}
    # the repositories exist in the tenant's account, and in no other
    ecr = tenant_ecr(stack, account, tenant_id)
    # the images, the tenant chart (copied by the build) and the tenant's manifests artifact
    assert repositories(ecr) == {f"{tenant_id}/{r}" for r in ("api", "worker", "charts/tenant", "manifests")}
    assert repositories(stack.client("ecr")) == set()
    described = ecr.describe_repositories()["repositories"]
    assert all(r["imageScanningConfiguration"]["scanOnPush"] for r in described)
    mutable = {r["repositoryName"] for r in described if r["imageTagMutability"] == "MUTABLE"}
    assert mutable == {f"{tenant_id}/manifests"}  # only its `latest` moves; images and charts are immutable
    assert ecr.get_lifecycle_policy(repositoryName=f"{tenant_id}/api")["lifecyclePolicyText"]
    # the images are in the tenant's registry with the source digests (copied, not rebuilt)
    for name, image in release.items():
        assert stack.tenant_registry.manifest_digest(f"{tenant_id}/{name}", "1.4.2") == image.digest
    # the record and the manifests reference exactly those, pinned by digest
    uri = f"{account}.dkr.ecr.{REGION}.amazonaws.com/{tenant_id}"
    assert record["images"] == [
        {"name": n, "repository": f"{uri}/{n}", "digest": release[n].digest} for n in sorted(release)
    ]
    docs = list(yaml.safe_load_all(stack.git.read(f"remote/{tenant_id}/release.yaml")))
    (helm,) = [d for d in docs if d["kind"] == "HelmRelease"]
    assert helm["spec"]["values"]["images"] == {
        n: {"repository": f"{uri}/{n}", "digest": release[n].digest, "image": f"{uri}/{n}@{release[n].digest}"}
        for n in release
    }
    assert has_no_cluster_file(stack.git, tenant_id)  # the provider cluster does not run it
    states = [s["name"] for s in stack.executions()[0]["states"]]
    assert states[2:6] == ["VerifyTenantAccess", "EnsureTenantRegistry", "StartArtifactBuild", "CommitGitOps"]


def test_a_duplicate_delivery_copies_once(stack: RemoteStack) -> None:
    tenant_id = derive_tenant_id("rm-dup")
    stack.bootstrap_tenant_account(ACCOUNTS["dup"], tenant_id)
    event = remote_signup("rm-dup", "Remote Dup", ACCOUNTS["dup"])
    run(stack, event, dict(event), dict(event))
    assert len(stack.builds()) == 1 and len(stack.executions()) == 1
    assert len([c for c in stack.new_commits() if c.startswith("Onboard tenant")]) == 1


def test_a_missing_role_fails_permanently_with_what_to_deploy(stack: RemoteStack) -> None:
    run(stack, remote_signup("rm-norole", "No Role", ACCOUNTS["norole"]))
    tenant_id = derive_tenant_id("rm-norole")
    record = stack.tenant(tenant_id)
    assert record["status"] == "FAILED" and record["failedStep"] == "VerifyTenantAccess"
    reason = record["failureReason"]
    assert "no such role" in reason and "tenant-account/bootstrap.yaml" in reason and f"TenantId={tenant_id}" in reason
    (execution,) = stack.executions()
    verify = next(s for s in execution["states"] if s["name"] == "VerifyTenantAccess")
    assert verify["attempts"] == 1  # permanent: not retried
    assert stack.builds() == {}


def test_a_role_with_the_wrong_external_id_is_refused(stack: RemoteStack) -> None:
    tenant_id = derive_tenant_id("rm-extid")
    stack.bootstrap_tenant_account(ACCOUNTS["extid"], tenant_id, external_id="someone-else")
    run(stack, remote_signup("rm-extid", "Wrong External Id", ACCOUNTS["extid"]))
    record = stack.tenant(tenant_id)
    assert record["status"] == "FAILED" and "ExternalId does not match" in record["failureReason"]


def test_a_build_that_fails_compensates_and_reports_the_builds_reason(stack: RemoteStack) -> None:
    account = ACCOUNTS["fail"]
    tenant_id = derive_tenant_id("rm-fail")
    stack.bootstrap_tenant_account(account, tenant_id)
    stack.codebuild.fail_next = 1
    run(stack, remote_signup("rm-fail", "Failing Build", account))
    record = stack.tenant(tenant_id)
    assert record["status"] == "FAILED" and record["failedStep"] == "StartArtifactBuild"
    assert "FAILED in BUILD" in record["failureReason"] and "COMMAND_EXECUTION_ERROR" in record["failureReason"]
    (failed,) = events_of(stack, "Tenant Onboarding Failed")
    assert failed["error"] == "ArtifactBuildFailed" and failed["compensated"] is True
    assert repositories(tenant_ecr(stack, account, tenant_id)) == set()
    assert stack.new_commits() == []


def test_compensation_removes_only_the_repositories_this_execution_created(stack: RemoteStack) -> None:
    account = ACCOUNTS["mixed"]
    tenant_id = derive_tenant_id("rm-mixed")
    stack.bootstrap_tenant_account(account, tenant_id)
    ecr = tenant_ecr(stack, account, tenant_id)
    ecr.create_repository(repositoryName=f"{tenant_id}/api")  # made by someone else, earlier
    ecr.create_repository(repositoryName="unrelated/app")
    stack.codebuild.fail_next = 1  # the push fails after the repositories were ensured
    run(stack, remote_signup("rm-mixed", "Mixed Repos", account))
    assert stack.tenant(tenant_id)["status"] == "FAILED"
    assert repositories(ecr) == {f"{tenant_id}/api", "unrelated/app"}


def test_re_onboarding_after_the_cause_is_fixed_succeeds(stack: RemoteStack) -> None:
    event = remote_signup("rm-redrive", "Redrive Remote", ACCOUNTS["redrive"])
    run(stack, event)
    tenant_id = derive_tenant_id("rm-redrive")
    assert stack.tenant(tenant_id)["status"] == "FAILED"
    stack.bootstrap_tenant_account(ACCOUNTS["redrive"], tenant_id)  # the customer deploys the stack
    run(stack, dict(event, id="again"))
    record = stack.tenant(tenant_id)
    assert record["status"] == "ACTIVE" and record["attempts"] == 2 and len(record["images"]) == 2
