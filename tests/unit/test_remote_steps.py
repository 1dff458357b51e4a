"""Remote steps as logic: the access check's reason, registry idempotency, the build callback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from onboarding.codebuild_events import BuildStateChange
from onboarding.errors import TenantAccessDenied, TransientError
from onboarding.identity import derive_tenant_id
from onboarding.payloads import StepInput
from onboarding.records import Release
from onboarding.remote import remove_created_repositories
from onboarding.steps.build_callback import failure_cause, handle_build_state_change
from onboarding.steps.ensure_tenant_registry import ensure_tenant_registry
from onboarding.steps.start_artifact_build import build_environment, start_artifact_build
from onboarding.steps.verify_tenant_access import verify_tenant_access
from tests.utils.fakes import Accounts, Callbacks, Registry, Taken

DIGEST = "sha256:" + "a" * 64
RELEASE = Release.model_validate(
    {
        "version": "2.0.0",
        "chartVersion": "1.0.0",
        "registry": "111111111111.dkr.ecr.us-east-1.amazonaws.com",
        "region": "us-east-1",
        "images": [
            {"name": "api", "repository": "saas/api", "digest": DIGEST}  # relative to the registry, as documented
        ],
    }
)


def step(**extra: Any) -> StepInput:
    tenant_id = derive_tenant_id("r-1")
    signup = {
        "signupId": "r-1",
        "tenantName": "Remote",
        "adminEmail": "a@b.example",
        "tier": "advanced",
        "deploymentModel": "remote",
        "awsAccountId": "222222222222",
        "region": "eu-west-1",
    }
    return StepInput.model_validate(
        {"tenantId": tenant_id, "attempt": 1, "execution": tenant_id, "signup": signup, **extra}
    )


def test_access_is_checked_with_the_tenant_id_as_external_id() -> None:
    accounts = Accounts()
    arn = verify_tenant_access(step(), accounts=accounts, provider_roles="arn:aws:iam::1:role/p")
    assert accounts.assumed == [(arn, step().tenant_id)]
    assert arn == f"arn:aws:iam::222222222222:role/saas-onboarding-{step().tenant_id}"


def test_a_denied_role_says_exactly_what_to_deploy() -> None:
    with pytest.raises(TenantAccessDenied) as info:
        verify_tenant_access(step(), accounts=Accounts(deny=True), provider_roles="arn:aws:iam::1:role/p")
    message = str(info.value)
    assert "aws cloudformation deploy --template-file tenant-account/bootstrap.yaml" in message
    assert f"TenantId={step().tenant_id}" in message and "ProviderPipelineRoleArns=arn:aws:iam::1:role/p" in message
    assert "In account 222222222222" in message


def test_registry_reuses_existing_repositories_and_compensation_deletes_only_its_own() -> None:
    tenant_id = step().tenant_id
    registry = Registry(existing={f"{tenant_id}/api", "other/app"})
    release = RELEASE.model_copy(
        update={"images": [*RELEASE.images, RELEASE.images[0].model_copy(update={"name": "worker"})]}
    )
    result = ensure_tenant_registry(
        step(), accounts=Accounts(), registry_for=lambda c, r: registry, release=release, build_timeout_seconds=600
    )
    assert [(r.name, r.created) for r in result.repositories] == [
        (f"{tenant_id}/api", False),
        (f"{tenant_id}/worker", True),
    ]
    # the chart and the manifests artifact get repositories of their own; only the manifests' tag moves
    assert registry.repos[f"{tenant_id}/manifests"].get("mutable") == "true"
    assert "mutable" not in registry.repos[f"{tenant_id}/charts/tenant"]
    removed = remove_created_repositories(
        step(), accounts=Accounts(), registry_for=lambda c, r: registry, image_names=["api", "worker"]
    )
    assert removed == [f"{tenant_id}/worker", f"{tenant_id}/charts/tenant", f"{tenant_id}/manifests"]
    assert set(registry.repos) == {f"{tenant_id}/api", "other/app"}


def test_the_build_gets_the_images_by_digest_and_the_token_stays_out_of_it() -> None:
    registry = ensure_tenant_registry(
        step(), accounts=Accounts(), registry_for=lambda c, r: Registry(), release=RELEASE, build_timeout_seconds=600
    )
    s = step(registry=registry.wire())
    env = build_environment(s)
    assert env["SOURCE_IMAGES"] == f"api=111111111111.dkr.ecr.us-east-1.amazonaws.com/saas/api@{DIGEST}"
    assert env["TARGET_REGISTRY"] == "222222222222.dkr.ecr.eu-west-1.amazonaws.com"
    assert env["EXTERNAL_ID"] == s.tenant_id and env["TARGET_PREFIX"] == s.tenant_id

    class Builds:
        def start(self, project: str, environment: Mapping[str, str]) -> str:
            assert "secret-token" not in str(environment)
            return "arn:aws:codebuild:build/p:1"

    class Pending:
        def __init__(self) -> None:
            self.items: dict[str, tuple[str, ...]] = {}

        def put(self, build_id: str, task_token: str, tenant_id: str, execution: str) -> None:
            self.items[build_id] = (task_token, tenant_id, execution)

    pending = Pending()
    start_artifact_build(s, "secret-token", builds=Builds(), pending=pending, project="p")  # type: ignore[arg-type]
    assert pending.items == {"arn:aws:codebuild:build/p:1": ("secret-token", s.tenant_id, s.execution)}


def event(status: str, **info: Any) -> BuildStateChange:
    return BuildStateChange.model_validate(
        {"build-status": status, "build-id": "arn:aws:codebuild:build/p:1", "additional-information": info}
    )


def test_a_successful_build_resumes_with_its_digests_once() -> None:
    callbacks, pending = Callbacks(), Taken("arn:aws:codebuild:build/p:1")
    detail = event(
        "SUCCEEDED", **{"exported-environment-variables": [{"name": "IMAGE_DIGESTS", "value": f"api={DIGEST}"}]}
    )
    assert handle_build_state_change(detail, pending=pending, callbacks=callbacks) == "succeeded"
    assert handle_build_state_change(detail, pending=pending, callbacks=callbacks) == "unknown-build"  # redelivered
    assert callbacks.calls == [("succeed", "tok", str({"api": DIGEST}))]


@pytest.mark.parametrize("status", ["FAILED", "STOPPED", "TIMED_OUT"])
def test_a_failed_build_resumes_with_the_builds_own_reason(status: str) -> None:
    callbacks = Callbacks()
    detail = event(
        status,
        phases=[
            {"phase-type": "BUILD", "phase-status": status, "phase-context": ["COMMAND_EXECUTION_ERROR: exit status 1"]}
        ],
    )
    assert handle_build_state_change(detail, pending=Taken(detail.build_id), callbacks=callbacks) == "failed"
    (call,) = callbacks.calls
    assert call[:3] == ("fail", "tok", "ArtifactBuildFailed")
    assert call[3] == failure_cause(detail) and f"{status} in BUILD: COMMAND_EXECUTION_ERROR" in call[3]


def test_in_progress_events_are_ignored() -> None:
    callbacks = Callbacks()
    assert handle_build_state_change(event("IN_PROGRESS"), pending=Taken("x"), callbacks=callbacks) == "ignored"
    assert callbacks.calls == []


def test_a_callback_that_fails_to_send_keeps_the_token_for_the_retry() -> None:
    class Throttled(Callbacks):
        def succeed(self, task_token: str, output: Mapping[str, object]) -> bool:
            raise TransientError("states:SendTaskSuccess: ThrottlingException")

    pending = Taken("arn:aws:codebuild:build/p:1")
    detail = event(
        "SUCCEEDED", **{"exported-environment-variables": [{"name": "IMAGE_DIGESTS", "value": f"api={DIGEST}"}]}
    )
    with pytest.raises(TransientError):
        handle_build_state_change(detail, pending=pending, callbacks=Throttled())
    assert pending.build_id == detail.build_id  # still there for Lambda's retry
    assert handle_build_state_change(detail, pending=pending, callbacks=Callbacks()) == "succeeded"
