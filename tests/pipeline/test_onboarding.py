"""The real onboarding state machine on the embedded local stack, one test per path."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from onboarding.identity import derive_tenant_id
from tests.conftest import sample_event, signup_event
from tests.utils.paths import has_no_cluster_file, tenant_file
from tests.utils.scoped_stack import ScopedStack

# One local stack for the module (tests/utils/scoped_stack.py): each test sees only its own events, executions,
# tenants and commits, and onboards tenants with signup ids and names of its own.
pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("onboarding")]


@pytest.fixture
def stack(scoped_stack: ScopedStack) -> ScopedStack:
    return scoped_stack


def run(stack: Any, *events: dict[str, Any]) -> None:
    stack.put_events(list(events))
    stack.wait_idle(120)


def events_of(stack: Any, detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in stack.status_events() if e["detail-type"] == detail_type]


def tenant_commits(stack: Any, tenant_id: str) -> list[str]:
    return [s for s in stack.git.log() if s.startswith(f"Onboard tenant {tenant_id} ")]


def test_pooled_happy_path(stack: ScopedStack) -> None:
    event = sample_event("signup-pooled.json")
    run(stack, event)
    tenant_id = derive_tenant_id(event["detail"]["signupId"])
    record = stack.tenant(tenant_id)
    assert record["status"] == "ACTIVE"
    assert record["deploymentModel"] == "pooled" and record["tier"] == "basic"
    assert record["tenantName"] == "Acme Analytics" and record["adminEmail"] == "ops@acme.example"
    assert [h["outcome"] for h in record["history"]] == ["ONBOARDING", "ACTIVE"]
    assert record["createdAt"] <= record["updatedAt"]
    # the recorded commit is the one that added the tenant's file
    path = tenant_file(tenant_id)
    assert stack.git.git("log", "--format=%H", "-1", "main", "--", path).strip() == record["gitCommit"]
    (release,) = yaml.safe_load_all(stack.git.read(path))
    assert release["kind"] == "HelmRelease" and release["metadata"]["namespace"] == "pool"
    assert release["spec"]["values"]["tenantId"] == tenant_id
    (onboarded,) = events_of(stack, "Tenant Onboarded")
    assert onboarded["tenantId"] == tenant_id
    # ACTIVE only once Flux reported the HelmRelease ready, at the exact chart version committed
    assert onboarded["verified"] is True and onboarded["chartVersion"] == record["chartVersion"] == stack.chart_version
    assert onboarded["reconciledAt"] == record["reconciledAt"]
    assert release["spec"]["chart"]["spec"]["version"] == record["chartVersion"]
    assert events_of(stack, "Tenant Onboarding Started")[0]["signupId"] == event["detail"]["signupId"]
    (execution,) = stack.executions()
    assert execution["status"] == "SUCCEEDED" and execution["name"] == tenant_id
    assert [s["name"] for s in execution["states"]] == [
        "RegisterTenant",
        "ChooseDeploymentModel",
        "CommitGitOps",
        "AwaitReconcile",
        "ActivateTenant",
        "Onboarded",
    ]


def test_siloed_happy_path(stack: ScopedStack) -> None:
    event = sample_event("signup-siloed.json")
    run(stack, event)
    tenant_id = derive_tenant_id(event["detail"]["signupId"])
    record = stack.tenant(tenant_id)
    assert record["status"] == "ACTIVE" and record["deploymentModel"] == "siloed"
    namespace, release, alert = yaml.safe_load_all(stack.git.read(tenant_file(tenant_id)))
    assert namespace == {**namespace, "kind": "Namespace"} and namespace["metadata"]["name"] == tenant_id
    # notification-controller matches namespaces exactly: the tenant's namespace gets its own Alert
    assert alert["kind"] == "Alert" and alert["spec"]["eventSources"][0]["namespace"] == tenant_id
    assert release["spec"]["targetNamespace"] == tenant_id
    assert release["metadata"]["annotations"]["onboarding.saas.aws/tenant-name"] == "Globex Société Générale"
    assert len(tenant_commits(stack, tenant_id)) == 1


def test_a_duplicate_delivery_gives_one_tenant_one_execution_one_commit(stack: ScopedStack) -> None:
    event = signup_event("dup-1", "Duplicate Co")
    run(stack, event, dict(event), dict(event))  # three at once: concurrent deliveries
    run(stack, dict(event))  # and once more after it finished
    redelivered = dict(event, id="another-delivery-id")
    run(stack, redelivered, redelivered)
    tenant_id = derive_tenant_id("dup-1")
    assert [t["tenantId"] for t in stack.tenants()] == [tenant_id]
    assert [e["name"] for e in stack.executions()] == [tenant_id]
    assert len(tenant_commits(stack, tenant_id)) == 1
    assert len(events_of(stack, "Tenant Onboarded")) == 1


INVALID = {
    "missing everything": ({}, {"signupId", "tenantName", "adminEmail", "tier"}),
    "bad email and tier": (
        {"signupId": "i-1", "tenantName": "X", "adminEmail": "x@", "tier": "gold"},
        {"adminEmail", "tier"},
    ),
    "unknown field": (
        {"signupId": "i-2", "tenantName": "X", "adminEmail": "a@b.example", "tier": "basic", "plan": "pro"},
        {"plan"},
    ),
    "blank name": (
        {"signupId": "i-3", "tenantName": " \t ", "adminEmail": "a@b.example", "tier": "basic"},
        {"tenantName"},
    ),
    "remote without account": (
        {
            "signupId": "i-4",
            "tenantName": "X",
            "adminEmail": "a@b.example",
            "tier": "basic",
            "deploymentModel": "remote",
        },
        {"awsAccountId", "region"},
    ),
    "bad account and region": (
        {
            "signupId": "i-5",
            "tenantName": "X",
            "adminEmail": "a@b.example",
            "tier": "basic",
            "deploymentModel": "remote",
            "awsAccountId": "1234",
            "region": "nowhere",
        },
        {"awsAccountId", "region"},
    ),
    "signupId not a string": (
        {"signupId": 7, "tenantName": "X", "adminEmail": "a@b.example", "tier": "basic"},
        {"signupId"},
    ),
    "unknown model": (
        {"signupId": "i-6", "tenantName": "X", "adminEmail": "a@b.example", "tier": "basic", "deploymentModel": "edge"},
        {"deploymentModel"},
    ),
}


def test_every_kind_of_invalid_event_is_rejected_and_nothing_is_written(stack: ScopedStack) -> None:
    head = stack.git.head()
    for detail, _ in INVALID.values():
        event = signup_event("unused", "unused")
        event["detail"] = detail
        run(stack, event)
    run(stack, sample_event("signup-invalid.json"))
    rejections = events_of(stack, "Tenant Signup Rejected")
    assert len(rejections) == len(INVALID) + 1
    for (name, (_, fields)), rejection in zip(INVALID.items(), rejections, strict=False):
        assert {e["field"] for e in rejection["errors"]} == fields, name
        assert all(e["message"] for e in rejection["errors"])
    assert {e["field"] for e in rejections[-1]["errors"]} == {
        "signupId",
        "tenantName",
        "adminEmail",
        "tier",
        "awsAccountId",
    }
    assert stack.tenants() == [] and stack.executions() == []
    assert stack.git.head() == head
    assert [e["detail-type"] for e in stack.status_events()] == ["Tenant Signup Rejected"] * len(rejections)


def test_other_detail_types_are_ignored(stack: ScopedStack) -> None:
    event = signup_event("o-1", "Other")
    event["detail-type"] = "Tenant Signup Cancelled"
    run(stack, event)
    assert stack.status_events() == [] and stack.executions() == []


def test_a_name_collision_fails_the_second_tenant_and_leaves_the_first_untouched(stack: ScopedStack) -> None:
    run(stack, signup_event("name-1", "Café Ltd"))
    first = stack.tenant(derive_tenant_id("name-1"))
    run(stack, signup_event("name-2", "CAFE  ltd", tier="premium"))
    second_id = derive_tenant_id("name-2")
    second = stack.tenant(second_id)
    assert second["status"] == "FAILED" and second["failedStep"] == "RegisterTenant"
    assert "already taken" in second["failureReason"]
    assert stack.tenant(derive_tenant_id("name-1")) == first
    (failed,) = events_of(stack, "Tenant Onboarding Failed")
    assert failed["tenantId"] == second_id and failed["error"] == "TenantNameTaken" and failed["compensated"]
    assert has_no_cluster_file(stack.git, second_id)
    assert {e["status"] for e in stack.executions()} == {"SUCCEEDED", "FAILED"}


def test_a_push_rejected_because_the_branch_moved_is_retried(stack: ScopedStack) -> None:
    stack.git.move_branch_before_next_push()
    run(stack, signup_event("race-1", "Racer"))
    tenant_id = derive_tenant_id("race-1")
    record = stack.tenant(tenant_id)
    assert record["status"] == "ACTIVE"
    log = stack.new_commits()
    assert "Concurrent change by another writer" in log  # the other writer's commit survived
    assert len(tenant_commits(stack, tenant_id)) == 1
    assert log[0].startswith(f"Onboard tenant {tenant_id}") and stack.git.head() == record["gitCommit"]


def test_git_server_down_compensates_fails_announces_and_leaves_the_repo_unchanged(stack: ScopedStack) -> None:
    head = stack.git.head()
    stack.git.stop()
    run(stack, signup_event("down-1", "Downtime Inc"))
    tenant_id = derive_tenant_id("down-1")
    record = stack.tenant(tenant_id)
    assert record["status"] == "FAILED" and record["failedStep"] == "CommitGitOps"
    assert "cannot fetch" in record["failureReason"]
    (failed,) = events_of(stack, "Tenant Onboarding Failed")
    assert failed["failedStep"] == "CommitGitOps" and failed["error"] == "GitRemoteUnavailable"
    assert failed["compensated"] is True
    (execution,) = stack.executions()
    assert execution["status"] == "FAILED" and execution["error"] == "GitRemoteUnavailable"
    assert [s["name"] for s in execution["states"]][-4:] == [
        "CommitGitOps failed",
        "Compensate",
        "RecordFailure",
        "OnboardingFailed",
    ]
    stack.git.start()
    assert stack.git.head() == head
    # the name was released by compensation, so another signup may take it
    run(stack, signup_event("down-2", "Downtime Inc"))
    assert stack.tenant(derive_tenant_id("down-2"))["status"] == "ACTIVE"


def test_a_failed_tenant_is_redriven_by_its_signup_once_the_cause_is_fixed(stack: ScopedStack) -> None:
    event = signup_event("redrive-1", "Redrive Ltd")
    stack.git.stop()
    run(stack, event)
    stack.git.start()
    run(stack, dict(event, id="second-delivery"))
    tenant_id = derive_tenant_id("redrive-1")
    record = stack.tenant(tenant_id)
    assert record["status"] == "ACTIVE" and record["attempts"] == 2
    assert record["execution"] == f"{tenant_id}-a2"
    assert [h["outcome"] for h in record["history"]] == ["ONBOARDING", "FAILED", "ONBOARDING", "ACTIVE"]
    assert "failedStep" not in record and "failureReason" not in record
    assert [e["status"] for e in stack.executions()] == ["FAILED", "SUCCEEDED"]


def test_a_transient_dynamodb_error_is_retried_by_the_state_machine(stack: ScopedStack) -> None:
    stack.inject_fault("dynamodb", "TransactWriteItems", "ProvisionedThroughputExceededException", times=1)
    run(stack, signup_event("ddb-1", "Throttled"))
    assert stack.tenant(derive_tenant_id("ddb-1"))["status"] == "ACTIVE"
    (execution,) = stack.executions()
    register = next(s for s in execution["states"] if s["name"] == "RegisterTenant")
    assert register["attempts"] == 2


def test_a_permanent_dynamodb_error_fails_the_tenant_with_its_reason(stack: ScopedStack) -> None:
    stack.inject_fault("dynamodb", "TransactWriteItems", "ValidationException", times=1)
    run(stack, signup_event("ddb-2", "Broken Table"))
    record = stack.tenant(derive_tenant_id("ddb-2"))
    assert record["status"] == "FAILED" and record["failedStep"] == "RegisterTenant"
    assert "ValidationException" in record["failureReason"]
    (failed,) = events_of(stack, "Tenant Onboarding Failed")
    assert failed["error"] == "StorageError"


def test_activation_failure_reverts_the_gitops_commit(stack: ScopedStack) -> None:
    stack.inject_fault("dynamodb", "UpdateItem", "ValidationException", function="ActivateTenantFunction")
    run(stack, signup_event("act-1", "Late Failure"))
    tenant_id = derive_tenant_id("act-1")
    record = stack.tenant(tenant_id)
    assert record["status"] == "FAILED" and record["failedStep"] == "ActivateTenant"
    assert has_no_cluster_file(stack.git, tenant_id)
    assert stack.new_commits() == [
        f"Revert onboarding of tenant {tenant_id}",
        f"Onboard tenant {tenant_id} (basic, pooled)",
    ]
    assert events_of(stack, "Tenant Onboarding Failed")[0]["compensated"] is True


def test_an_intake_that_keeps_failing_sends_the_event_to_the_dead_letter_queue(stack: ScopedStack) -> None:
    queued = [d["id"] for d in stack.dead_letters()]  # the module's stack: other tests' dead letters stay queued
    stack.inject_fault("states", "StartExecution", "AccessDeniedException", times=3)
    event = signup_event("dlq-1", "Dead Letter")
    run(stack, event)
    (dead,) = [d for d in stack.dead_letters() if d["id"] not in queued]
    assert dead["detail"]["signupId"] == "dlq-1"
    assert stack.tenants() == [] and stack.executions() == []


def test_a_redrive_that_fails_again_can_be_redriven_once_more(stack: ScopedStack) -> None:
    run(stack, signup_event("again-0", "Taken Name"))
    event = signup_event("again-1", "Redriven Twice")
    stack.git.stop()
    run(stack, event)  # attempt 1 fails at CommitGitOps
    stack.git.start()
    run(stack, dict(event, detail={**event["detail"], "tenantName": "taken name"}, id="2"))  # attempt 2: name taken
    tenant_id = derive_tenant_id("again-1")
    record = stack.tenant(tenant_id)
    assert (record["status"], record["attempts"], record["failedStep"]) == ("FAILED", 2, "RegisterTenant")
    run(stack, dict(event, id="3"))  # attempt 3, with the original name
    record = stack.tenant(tenant_id)
    assert record["status"] == "ACTIVE" and record["execution"] == f"{tenant_id}-a3"
