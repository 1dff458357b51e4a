"""Tenant lifecycle on the real state machines: offboarding, tier change, suspend and resume."""

from __future__ import annotations

import json
from typing import Any

import pytest

from onboarding.identity import derive_tenant_id, operation_execution_name
from tests.conftest import signup_event
from tests.utils.operations import documents, events_of, onboard, request, run
from tests.utils.paths import tenant_file
from tests.utils.scoped_stack import ScopedStack

# One local stack for the module (tests/utils/scoped_stack.py); the tests that need a stack of their own, with
# other parameters, are in test_lifecycle_runs.py.
pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("lifecycle")]


@pytest.fixture
def stack(scoped_stack: ScopedStack) -> ScopedStack:
    return scoped_stack


# ------------------------------------------------------------------ the full lifecycle, one request after another
@pytest.mark.parametrize(
    ("tier", "model", "new_tier", "new_model"),
    [("basic", "pooled", "premium", "siloed"), ("premium", "siloed", "basic", "pooled")],
    ids=["pooled", "siloed"],
)
def test_full_lifecycle(stack: ScopedStack, tier: str, model: str, new_tier: str, new_model: str) -> None:
    signup_id = f"life-{model}"
    tenant_id = derive_tenant_id(signup_id)
    steps = [
        signup_event(signup_id, f"Lifecycle {model}", tier=tier),
        request("change-tier", tenant_id, tier=new_tier, dataPlan="keep"),
        request("suspend", tenant_id),
        request("resume", tenant_id),
        request("offboard", tenant_id),
    ]
    seen: list[tuple[dict[str, Any], list[dict[str, Any]], list[str]]] = []
    for event in steps:
        run(stack, event)
        seen.append((stack.tenant(tenant_id) or {}, documents(stack, tenant_id), stack.git.log()))
    (
        (onboarded, docs0, log0),
        (changed, docs1, log1),
        (suspended, docs2, log2),
        (resumed, docs3, log3),
        (gone, docs4, log4),
    ) = seen

    assert (onboarded["status"], onboarded["tier"], onboarded["deploymentModel"]) == ("ACTIVE", tier, model)
    assert docs0[-1]["spec"]["values"]["tier"] == tier

    # tier change: placement moves in ONE commit, so there is never both or neither
    assert (changed["status"], changed["tier"], changed["deploymentModel"]) == ("ACTIVE", new_tier, new_model)
    assert docs1[-1]["spec"]["values"]["deploymentModel"] == new_model
    assert [d["kind"] for d in docs1] == (["Namespace", "HelmRelease"] if new_model == "siloed" else ["HelmRelease"])
    assert len(log1) == len(log0) + 1 and log1[0].startswith(f"Change tier {tier} -> {new_tier}")
    assert changed["gitCommit"] != onboarded["gitCommit"]

    # suspend: scaled to zero through the values; resume restores it
    assert suspended["status"] == "SUSPENDED"
    assert (
        docs2[-1]["spec"]["values"]["suspended"] is True and docs2[-1]["spec"]["values"]["resources"]["replicas"] == 0
    )
    assert resumed["status"] == "ACTIVE"
    assert docs3 == docs1  # exactly the configuration from before the suspension
    assert log2[0].startswith("Suspend") and log3[0].startswith("Resume")

    # offboard: the file is gone (Flux prunes), the record stays as a tombstone
    assert docs4 == [] and log4[0] == f"Offboard tenant {tenant_id}"
    assert gone["status"] == "OFFBOARDED" and gone["offboardedAt"] and "lock" not in gone
    assert [(h["operation"], h["outcome"]) for h in gone["history"]] == [
        ("onboard", "ONBOARDING"),
        ("onboard", "ACTIVE"),
        ("change-tier", "ACTIVE"),
        ("suspend", "SUSPENDED"),
        ("resume", "ACTIVE"),
        ("offboard", "OFFBOARDED"),
    ]


# ------------------------------------------------------------------ per operation
def test_events_of_each_operation_carry_what_consumers_need(stack: Any) -> None:
    tenant_id = onboard(stack, "ev-1", "Eventful")
    run(stack, request("change-tier", tenant_id, "op-tier", tier="advanced", dataPlan="migrate"))
    run(stack, request("suspend", tenant_id, "op-suspend"))
    run(stack, request("resume", tenant_id, "op-resume"))
    run(stack, request("offboard", tenant_id, "op-offboard"))
    (changed,) = events_of(stack, "Tenant Tier Changed")
    assert (changed["fromTier"], changed["toTier"], changed["deploymentModel"]) == ("basic", "advanced", "siloed")
    assert changed["operationId"] == "op-tier" and changed["signupId"] == "ev-1"
    for detail_type, op in (
        ("Tenant Suspended", "op-suspend"),
        ("Tenant Resumed", "op-resume"),
        ("Tenant Offboarded", "op-offboard"),
    ):
        (event,) = events_of(stack, detail_type)
        assert event["tenantId"] == tenant_id and event["operationId"] == op and len(event["gitCommit"]) == 40
    assert events_of(stack, "Tenant Offboarded")[0]["nameReleasedAt"] > "2026"


@pytest.mark.parametrize("operation", ["suspend", "change-tier", "offboard", "resume"])
def test_a_duplicate_delivery_runs_the_operation_once(stack: Any, operation: str) -> None:
    tenant_id = onboard(stack, f"dup-{operation}", f"Dup {operation}")
    if operation == "resume":
        run(stack, request("suspend", tenant_id, "dup-pre-suspend"))
    extra = {"tier": "premium", "dataPlan": "keep"} if operation == "change-tier" else {}
    event = request(operation, tenant_id, f"dup-op-{operation}", **extra)
    run(stack, event, dict(event), dict(event, id="other-delivery"))
    run(stack, dict(event, id="late-redelivery"))
    commits = stack.new_commits()
    assert len(commits) == (3 if operation == "resume" else 2)  # onboard, [suspend,] the operation
    lifecycle = [e for e in stack.executions() if e["name"].startswith("op-dup-op")]
    assert len(lifecycle) == 1 and lifecycle[0]["status"] == "SUCCEEDED"
    history = stack.tenant(tenant_id)["history"]
    assert [h["operation"] for h in history].count(operation) == 1


INVALID = {
    "no operationId": ({"tenantId": "t-x-0123456789"}, "suspend", {"operationId"}),
    "bad tenantId": ({"tenantId": "Not A Tenant!", "operationId": "o-1"}, "suspend", {"tenantId"}),
    "no tier": ({"tenantId": "t-x-0123456789", "operationId": "o-2"}, "change-tier", {"tier"}),
    "unknown tier": ({"tenantId": "t-x-0123456789", "operationId": "o-3", "tier": "gold"}, "change-tier", {"tier"}),
    "unknown field": ({"tenantId": "t-x-0123456789", "operationId": "o-4", "force": True}, "offboard", {"force"}),
}


def test_invalid_requests_are_rejected_with_every_field_and_nothing_runs(stack: Any) -> None:
    for detail, operation, _ in INVALID.values():
        event = request(operation, "unused")
        event["detail"] = detail
        run(stack, event)
    rejections = events_of(stack, "Tenant Operation Rejected")
    assert [{e["field"] for e in r["errors"]} for r in rejections] == [fields for _, _, fields in INVALID.values()]
    assert stack.executions() == [] and stack.tenants() == []


def test_operations_not_allowed_now_are_rejected_with_the_reason_and_change_nothing(stack: Any) -> None:
    tenant_id = onboard(stack, "rej-1", "Rejectable")
    stack.git.stop()
    run(stack, signup_event("rej-failed", "Failed One"))
    stack.git.start()
    failed_id = derive_tenant_id("rej-failed")
    before = {t["tenantId"]: t for t in stack.tenants()}
    head = stack.git.head()
    run(
        stack,
        request("resume", tenant_id, "r-1"),  # not suspended
        request("change-tier", tenant_id, "r-2", tier="basic"),  # already basic
        request("suspend", failed_id, "r-3"),  # onboarding failed
        request("offboard", "t-nobody-0123456789", "r-4"),  # unknown
    )
    reasons = {r["operationId"]: r["errors"][0]["message"] for r in events_of(stack, "Tenant Operation Rejected")}
    assert "is ACTIVE; resume needs a tenant that is SUSPENDED" in reasons["r-1"]
    assert "already on tier basic" in reasons["r-2"]
    assert "is FAILED" in reasons["r-3"]
    assert "unknown tenant" in reasons["r-4"]
    assert {t["tenantId"]: t for t in stack.tenants()} == before
    assert stack.git.head() == head
    assert all(e["status"] == "SUCCEEDED" for e in stack.executions() if e["name"].startswith("op-"))
    # the executions' output is the rejection with its reason, never a Python stack trace
    sfn = stack.client("stepfunctions")
    arns = stack.execution_arns("LifecycleStateMachine")
    assert len(arns) == 4  # one per request, each rejected
    for arn in arns:
        output = sfn.describe_execution(executionArn=arn)["output"]
        assert "Traceback" not in output and "stackTrace" not in output and 'File \\"' not in output
        assert json.loads(output)["rejection"]["errors"][0]["message"]


def test_an_offboarded_tenant_cannot_be_offboarded_again(stack: Any) -> None:
    tenant_id = onboard(stack, "off-1", "Twice Gone")
    run(stack, request("offboard", tenant_id, "off-a"))
    run(stack, request("offboard", tenant_id, "off-b"))
    (rejection,) = events_of(stack, "Tenant Operation Rejected")
    assert rejection["operationId"] == "off-b" and "is OFFBOARDED" in rejection["errors"][0]["message"]


def test_a_failure_after_the_commit_is_reverted_and_the_tenant_keeps_its_state(stack: Any) -> None:
    tenant_id = onboard(stack, "revert-1", "Revertible")
    before = stack.tenant(tenant_id)
    original = stack.git.read(tenant_file(tenant_id))
    # StartOperation's lock write succeeds; CompleteOperation's write fails permanently
    stack.inject_fault("dynamodb", "UpdateItem", "ValidationException", function="CompleteOperationFunction")
    run(stack, request("change-tier", tenant_id, "fail-tier", tier="premium", dataPlan="keep"))
    after = stack.tenant(tenant_id)
    assert (after["status"], after["tier"], after["deploymentModel"]) == ("ACTIVE", "basic", "pooled")
    assert "lock" not in after and after["gitCommit"] == before["gitCommit"]
    assert after["history"][-1]["outcome"] == "FAILED" and "CompleteOperation" in after["history"][-1]["detail"]
    assert stack.git.read(tenant_file(tenant_id)) == original
    assert stack.git.log()[:2] == [
        f"Revert change-tier of tenant {tenant_id}",
        f"Change tier basic -> premium (siloed) of tenant {tenant_id}",
    ]
    (failed,) = events_of(stack, "Tenant Operation Failed")
    assert failed["failedStep"] == "CompleteOperation" and failed["compensated"] is True
    assert failed["operation"] == "change-tier" and failed["error"] == "StorageError"
    # the lock was released: the next operation goes through
    run(stack, request("suspend", tenant_id, "after-failure"))
    assert stack.tenant(tenant_id)["status"] == "SUSPENDED"


def test_git_down_during_an_operation_fails_it_cleanly(stack: Any) -> None:
    tenant_id = onboard(stack, "gitdown-1", "Offline")
    head = stack.git.head()
    stack.git.stop()
    run(stack, request("suspend", tenant_id, "gd-1"))
    stack.git.start()
    record = stack.tenant(tenant_id)
    assert record["status"] == "ACTIVE" and "lock" not in record
    (failed,) = events_of(stack, "Tenant Operation Failed")
    assert failed["failedStep"] == "UpdateGitOps" and failed["error"] == "GitRemoteUnavailable"
    assert stack.git.head() == head


def test_two_operations_on_one_tenant_never_run_at_once(stack: Any) -> None:
    tenant_id = onboard(stack, "lock-1", "Locked")
    run(
        stack,
        request("suspend", tenant_id, "both-1"),
        request("change-tier", tenant_id, "both-2", tier="advanced", dataPlan="keep"),
    )
    record = stack.tenant(tenant_id)
    assert (record["status"], record["tier"]) == ("SUSPENDED", "advanced")
    assert "lock" not in record
    ops = [(h["operation"], h["outcome"]) for h in record["history"][2:]]
    assert sorted(ops) == [("change-tier", "SUSPENDED"), ("suspend", "SUSPENDED")] or sorted(ops) == [
        ("change-tier", "ACTIVE"),
        ("suspend", "SUSPENDED"),
    ]
    (release,) = [d for d in documents(stack, tenant_id) if d["kind"] == "HelmRelease"]
    assert release["spec"]["values"]["suspended"] is True and release["spec"]["values"]["tier"] == "advanced"
    busy = [s for e in stack.executions() for s in e["states"] if s["name"] == "StartOperation" and s["attempts"] > 1]
    assert busy, "one of the two waited for the other's lock"


def test_an_offboarded_name_stays_reserved_for_the_configured_period(stack: Any) -> None:
    tenant_id = onboard(stack, "n-3", "Reserved Name")
    run(stack, request("offboard", tenant_id, "n-off-2"))
    run(stack, signup_event("n-4", "Reserved Name"))
    record = stack.tenant(derive_tenant_id("n-4"))
    assert record["status"] == "FAILED" and "already taken" in record["failureReason"]


def test_offboarding_a_remote_tenant_keeps_its_repositories_by_default(stack: Any) -> None:
    tenant_id = derive_tenant_id("ret-2")
    stack.bootstrap_tenant_account("222222222222", tenant_id)
    run(
        stack,
        signup_event(
            "ret-2",
            "Retained",
            tier="advanced",
            deploymentModel="remote",
            awsAccountId="222222222222",
            region="eu-west-1",
        ),
    )
    run(stack, request("offboard", tenant_id, "ret-off-2"))
    execution = next(e for e in stack.executions() if e["name"].startswith("op-"))
    assert "ReleaseRemoteRegistry" in [s["name"] for s in execution["states"]]
    assert stack.tenant(tenant_id)["status"] == "OFFBOARDED"
    assert stack.tenant_registry.manifest_digest(f"{tenant_id}/api", "1.4.2") is not None


@pytest.mark.parametrize("operation", ["offboard", "suspend", "resume", "change-tier"])
def test_every_operation_that_fails_after_its_commit_is_reverted_and_announced(stack: Any, operation: str) -> None:
    tenant_id = onboard(stack, f"fail-{operation}", f"Failing {operation}")
    if operation == "resume":
        run(stack, request("suspend", tenant_id, f"pre-{operation}"))
    before = stack.tenant(tenant_id)
    original = stack.git.read(tenant_file(tenant_id))
    # the lock is taken; the completion write fails permanently
    stack.inject_fault("dynamodb", "UpdateItem", "ValidationException", function="CompleteOperationFunction")
    extra = {"tier": "premium", "dataPlan": "keep"} if operation == "change-tier" else {}
    run(stack, request(operation, tenant_id, f"failing-{operation}", **extra))
    after = stack.tenant(tenant_id)
    assert (after["status"], after["tier"], after["gitCommit"]) == (
        before["status"],
        before["tier"],
        before["gitCommit"],
    )
    assert "lock" not in after and after["history"][-1] == {
        **after["history"][-1],
        "operation": operation,
        "outcome": "FAILED",
    }
    assert stack.git.read(tenant_file(tenant_id)) == original
    assert stack.git.log()[0].startswith(f"Revert {operation} of tenant {tenant_id}")
    (failed,) = events_of(stack, "Tenant Operation Failed")
    assert (failed["operation"], failed["failedStep"], failed["compensated"]) == (operation, "CompleteOperation", True)


# ------------------------------------------------------------------ no tenant data lost by an operation
def lifecycle_output(stack: Any, operation_id: str) -> dict[str, Any]:
    """The lifecycle execution's output (its final state) for ``operation_id``."""
    sfn = stack.client("stepfunctions")
    machine = stack.template.ref("LifecycleStateMachine")
    name = operation_execution_name(operation_id)
    (summary,) = [e for e in sfn.list_executions(stateMachineArn=machine)["executions"] if e["name"] == name]
    output: dict[str, Any] = json.loads(sfn.describe_execution(executionArn=summary["executionArn"])["output"])
    return output


def test_a_move_between_placements_without_a_data_plan_is_rejected_and_changes_nothing(stack: Any) -> None:
    # Given a pooled tenant, whose data lives in the pool
    tenant_id = onboard(stack, "dp-none", "Planless")
    before, head = stack.tenant(tenant_id), stack.git.head()
    # When a tier change would move it to its own namespace without saying what happens to that data
    run(stack, request("change-tier", tenant_id, "dp-none-1", tier="premium"))
    # Then the request is rejected with the reason, naming dataPlan, and nothing changed
    (rejection,) = events_of(stack, "Tenant Operation Rejected")
    message = rejection["errors"][0]["message"]
    assert "from the pooled to the siloed placement" in message and "dataPlan" in message
    assert stack.tenant(tenant_id) == before and stack.git.head() == head


@pytest.mark.parametrize("data_plan", ["keep", "migrate", "discard"])
def test_a_move_to_the_pool_with_a_data_plan_goes_ahead_and_the_state_keeps_the_plan(
    stack: Any, data_plan: str
) -> None:
    # Given a siloed tenant: its namespace is never pruned by Flux
    tenant_id = onboard(stack, f"dp-{data_plan}", f"Planned {data_plan}", tier="premium")
    (namespace,) = [d for d in documents(stack, tenant_id) if d["kind"] == "Namespace"]
    assert namespace["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"] == "disabled"
    # When it moves to the pool, saying what happens to its data
    run(stack, request("change-tier", tenant_id, f"dp-{data_plan}-1", tier="basic", dataPlan=data_plan))
    # Then the move happened in one commit, and the execution's state keeps the data plan it was given
    record = stack.tenant(tenant_id)
    assert (record["status"], record["tier"], record["deploymentModel"]) == ("ACTIVE", "basic", "pooled")
    assert [d["kind"] for d in documents(stack, tenant_id)] == ["HelmRelease"]
    assert lifecycle_output(stack, f"dp-{data_plan}-1")["dataPlan"] == data_plan
