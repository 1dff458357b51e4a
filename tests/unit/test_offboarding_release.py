"""Offboarding releases what the deployment model provisioned only once the record says OFFBOARDED; a release that
fails after that is announced as what it is: done, with resources left, never "compensated"."""

from __future__ import annotations

from datetime import timedelta

from onboarding.contract.lifecycle import Operation, OperationFailed, TenantOffboarded
from onboarding.lifecycle_payloads import CompleteOperationInput, LifecycleFailureInput
from onboarding.manifests import GitOpsLayout
from onboarding.records import TenantStatus
from onboarding.steps.complete_operation import complete_operation
from onboarding.steps.fail_operation import fail_operation
from onboarding.steps.revert_gitops import revert_gitops
from onboarding.steps.start_operation import start_operation
from onboarding.steps.update_gitops import update_gitops
from tests.unit.test_lifecycle_steps import AT, active_tenant, now, req
from tests.utils.fakes import InMemoryGitOpsRepository, InMemoryTenantStore, RecordingPublisher


def test_a_release_that_fails_after_the_offboarding_completed_keeps_the_state_and_is_announced_uncompensated() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    tenant_id = active_tenant(store)
    repo = InMemoryGitOpsRepository({"README.md": b"x"})
    request = req(tenant_id, Operation.OFFBOARD)
    plan = start_operation(request, tenants=store, now=now)
    state = {**request.wire(), "plan": plan.wire()}
    change = update_gitops(
        CompleteOperationInput.model_validate({**state, "gitops": {"commit": "", "changed": False, "paths": []}}),
        repo=repo,
        layout=GitOpsLayout(),
    )
    done = CompleteOperationInput.model_validate({**state, "gitops": change.wire()})
    complete_operation(
        done,
        tenants=store,
        publisher=publisher,
        now=now,
        name_release_after=timedelta(days=30),
        data_retention=timedelta(days=30),
    )
    # Given the release step (after CompleteOperation) failed for good
    failure = LifecycleFailureInput.model_validate(
        {
            **state,
            "gitops": change.wire(),
            "failedStep": "ReleaseHybridActivation",
            "error": {"Error": "StorageError", "Cause": "ssm:DeleteActivation: AccessDeniedException"},
        }
    )
    files = dict(repo.head[1])
    # When compensation and FailOperation run
    compensation = revert_gitops(failure, repo=repo, layout=GitOpsLayout(), tenants=store)
    event = fail_operation(
        failure.model_copy(update={"compensation": compensation}),
        tenants=store,
        publisher=publisher,
        now=now,
        name_release_after=timedelta(days=30),
    )
    # Then the tenant stays OFFBOARDED in the record and in git, with its retention date
    record = store.records[tenant_id]
    assert record.status is TenantStatus.OFFBOARDED and repo.head[1] == files
    assert record.data_retained_until == AT + timedelta(days=30)
    # And the failure is announced, not compensated, naming what failed; the offboarding was announced once
    assert isinstance(event, OperationFailed) and event.compensated is False
    assert "releasing the tenant's resources failed" in event.cause and "AccessDenied" in event.cause
    assert publisher.of(OperationFailed) == [event] and len(publisher.of(TenantOffboarded)) == 1
