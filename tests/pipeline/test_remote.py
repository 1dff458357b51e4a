"""Remote tenants on the real state machine: the customer's account, its ECR, the CodeBuild copy, callbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from onboarding.identity import derive_tenant_id
from onboarding_local.stack import LocalStack
from tests.conftest import signup_event
from tests.utils.paths import tenant_file

pytestmark = pytest.mark.pipeline

ACCOUNT, REGION = "222222222222", "eu-west-1"


def remote_signup(signup_id: str, name: str) -> dict[str, Any]:
    return signup_event(signup_id, name, tier="advanced", deploymentModel="remote", awsAccountId=ACCOUNT, region=REGION)


def run(stack: Any, *events: dict[str, Any]) -> None:
    stack.put_events(list(events))
    stack.wait_idle(120)


def events_of(stack: Any, detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in stack.status_events() if e["detail-type"] == detail_type]


def tenant_ecr(stack: Any, tenant_id: str) -> Any:
    """ECR in the customer's account, through the bootstrap role (as the pipeline reaches it)."""
    creds = stack.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/saas-onboarding-{tenant_id}",
        RoleSessionName="test",
        ExternalId=tenant_id,
    )["Credentials"]
    return boto3.client(
        "ecr",
        region_name=REGION,
        endpoint_url=stack.endpoint,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def repositories(ecr: Any) -> set[str]:
    return {r["repositoryName"] for r in ecr.describe_repositories()["repositories"]}


def onboarded(stack: Any, signup_id: str) -> str:
    tenant_id = derive_tenant_id(signup_id)
    stack.bootstrap_tenant_account(ACCOUNT, tenant_id)
    run(stack, remote_signup(signup_id, f"Remote {signup_id}"))
    return tenant_id


def test_remote_happy_path(stack: Any) -> None:
    tenant_id = onboarded(stack, "rm-1")
    record = stack.tenant(tenant_id)
    assert record["status"] == "ACTIVE" and record["awsAccountId"] == ACCOUNT and record["region"] == REGION
    release = {i.name: i for i in stack.release}
    # the repositories exist in the tenant's account, and in no other
    ecr = tenant_ecr(stack, tenant_id)
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
    uri = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{tenant_id}"
    assert record["images"] == [
        {"name": n, "repository": f"{uri}/{n}", "digest": release[n].digest} for n in sorted(release)
    ]
    docs = list(yaml.safe_load_all(stack.git.read(f"remote/{tenant_id}/release.yaml")))
    (helm,) = [d for d in docs if d["kind"] == "HelmRelease"]
    assert helm["spec"]["values"]["images"] == {
        n: {"repository": f"{uri}/{n}", "digest": release[n].digest, "image": f"{uri}/{n}@{release[n].digest}"}
        for n in release
    }
    assert stack.git.read(tenant_file(tenant_id)) is None  # the provider cluster does not run it
    states = [s["name"] for s in stack.executions()[0]["states"]]
    assert states[2:6] == ["VerifyTenantAccess", "EnsureTenantRegistry", "StartArtifactBuild", "CommitGitOps"]


def test_a_duplicate_delivery_copies_once(stack: Any) -> None:
    tenant_id = derive_tenant_id("rm-dup")
    stack.bootstrap_tenant_account(ACCOUNT, tenant_id)
    event = remote_signup("rm-dup", "Remote Dup")
    run(stack, event, dict(event), dict(event))
    assert len(stack.codebuild.builds) == 1 and len(stack.executions()) == 1
    assert len([c for c in stack.git.log() if c.startswith("Onboard tenant")]) == 1


def test_a_missing_role_fails_permanently_with_what_to_deploy(stack: Any) -> None:
    run(stack, remote_signup("rm-norole", "No Role"))
    tenant_id = derive_tenant_id("rm-norole")
    record = stack.tenant(tenant_id)
    assert record["status"] == "FAILED" and record["failedStep"] == "VerifyTenantAccess"
    reason = record["failureReason"]
    assert "no such role" in reason and "tenant-account/bootstrap.yaml" in reason and f"TenantId={tenant_id}" in reason
    (execution,) = stack.executions()
    verify = next(s for s in execution["states"] if s["name"] == "VerifyTenantAccess")
    assert verify["attempts"] == 1  # permanent: not retried
    assert stack.codebuild.builds == {}


def test_a_role_with_the_wrong_external_id_is_refused(stack: Any) -> None:
    tenant_id = derive_tenant_id("rm-extid")
    stack.bootstrap_tenant_account(ACCOUNT, tenant_id, external_id="someone-else")
    run(stack, remote_signup("rm-extid", "Wrong External Id"))
    record = stack.tenant(tenant_id)
    assert record["status"] == "FAILED" and "ExternalId does not match" in record["failureReason"]


def test_a_build_that_fails_compensates_and_reports_the_builds_reason(stack: Any) -> None:
    tenant_id = derive_tenant_id("rm-fail")
    stack.bootstrap_tenant_account(ACCOUNT, tenant_id)
    stack.codebuild.fail_next = 1
    run(stack, remote_signup("rm-fail", "Failing Build"))
    record = stack.tenant(tenant_id)
    assert record["status"] == "FAILED" and record["failedStep"] == "StartArtifactBuild"
    assert "FAILED in BUILD" in record["failureReason"] and "COMMAND_EXECUTION_ERROR" in record["failureReason"]
    (failed,) = events_of(stack, "Tenant Onboarding Failed")
    assert failed["error"] == "ArtifactBuildFailed" and failed["compensated"] is True
    assert repositories(tenant_ecr(stack, tenant_id)) == set()
    assert stack.git.log() == ["Seed GitOps repository"]


def test_compensation_removes_only_the_repositories_this_execution_created(stack: Any) -> None:
    tenant_id = derive_tenant_id("rm-mixed")
    stack.bootstrap_tenant_account(ACCOUNT, tenant_id)
    ecr = tenant_ecr(stack, tenant_id)
    ecr.create_repository(repositoryName=f"{tenant_id}/api")  # made by someone else, earlier
    ecr.create_repository(repositoryName="unrelated/app")
    stack.codebuild.fail_next = 1  # the push fails after the repositories were ensured
    run(stack, remote_signup("rm-mixed", "Mixed Repos"))
    assert stack.tenant(tenant_id)["status"] == "FAILED"
    assert repositories(ecr) == {f"{tenant_id}/api", "unrelated/app"}


def test_re_onboarding_after_the_cause_is_fixed_succeeds(stack: Any) -> None:
    event = remote_signup("rm-redrive", "Redrive Remote")
    run(stack, event)
    tenant_id = derive_tenant_id("rm-redrive")
    assert stack.tenant(tenant_id)["status"] == "FAILED"
    stack.bootstrap_tenant_account(ACCOUNT, tenant_id)  # the customer deploys the stack
    run(stack, dict(event, id="again"))
    record = stack.tenant(tenant_id)
    assert record["status"] == "ACTIVE" and record["attempts"] == 2 and len(record["images"]) == 2


def test_a_build_state_event_that_never_comes_times_out(tmp_path: Path) -> None:
    with LocalStack(tmp_path / "s", parameters={"ArtifactBuildTimeoutSeconds": "5"}) as stack:
        tenant_id = derive_tenant_id("rm-lost")
        stack.bootstrap_tenant_account(ACCOUNT, tenant_id)
        stack.codebuild.drop_events = 1
        run(stack, remote_signup("rm-lost", "Lost Event"))
        record = stack.tenant(tenant_id)
        assert record is not None
        assert record["status"] == "FAILED" and record["failedStep"] == "StartArtifactBuild"
        (failed,) = events_of(stack, "Tenant Onboarding Failed")
        assert failed["error"] == "States.Timeout" and failed["compensated"] is True
        assert repositories(tenant_ecr(stack, tenant_id)) == set()
        # the execution fails with a name of its own: "States." names are reserved for Step Functions
        (execution,) = stack.executions()
        assert (execution["status"], execution["error"]) == ("FAILED", "StepTimeout")
        assert execution["states"][-1]["name"] == "OnboardingFailed"
