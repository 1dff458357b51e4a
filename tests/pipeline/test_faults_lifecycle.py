"""Fault injection at every adapter call of the lifecycle pipeline: suspend, resume, change tier, offboard.

As test_faults_onboarding: one fault per case, aimed at one handler's call for one tenant, all cases at once on
one local stack (the tenants are onboarded first, without faults). For each: the fault fired; the record, git
and the AWS resources agree at the end; the outcome events tell the truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from onboarding_local.faults import LOST_REPLY, RESET_AFTER, RESET_BEFORE, THROTTLE, TIMEOUT_BEFORE, Rule
from tests.pipeline import faults_support as fs
from tests.utils.operations import request

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("faults-lifecycle")]
ACCOUNT, REGION = "222222222222", "eu-west-1"
# (function, call, fault, model, operation)
SPEC = [
    ("LifecycleIntakeFunction", "states.StartExecution", LOST_REPLY, "pooled", "suspend"),
    ("StartOperationFunction", "dynamodb.GetItem", THROTTLE, "siloed", "resume"),
    ("StartOperationFunction", "dynamodb.UpdateItem", LOST_REPLY, "pooled", "change-tier"),
    ("StartOperationFunction", "dynamodb.UpdateItem", TIMEOUT_BEFORE, "siloed", "offboard"),
    ("UpdateGitOpsFunction", "git.fetch", RESET_BEFORE, "siloed", "suspend"),
    ("UpdateGitOpsFunction", "git.push", RESET_BEFORE, "pooled", "resume"),
    ("UpdateGitOpsFunction", "git.push", RESET_AFTER, "pooled", "offboard"),
    ("UpdateGitOpsFunction", "git.push", RESET_AFTER, "siloed", "change-tier"),
    ("UpdateGitOpsFunction", "git.push", RESET_AFTER, "remote", "suspend"),
    ("UpdateGitOpsFunction", "sts.AssumeRole", THROTTLE, "remote", "offboard"),
    ("AwaitReconcileFunction", "dynamodb.PutItem", LOST_REPLY, "siloed", "suspend"),
    ("AwaitReconcileFunction", "dynamodb.Query", TIMEOUT_BEFORE, "pooled", "offboard"),
    ("CompleteOperationFunction", "dynamodb.UpdateItem", LOST_REPLY, "hybrid", "offboard"),
    ("CompleteOperationFunction", "dynamodb.UpdateItem", THROTTLE, "siloed", "resume"),
    ("CompleteOperationFunction", "events.PutEvents", LOST_REPLY, "pooled", "change-tier"),
    ("CompleteOperationFunction", "events.PutEvents", TIMEOUT_BEFORE, "hybrid", "suspend"),
    ("ReleaseHybridActivationFunction", "ssm.DescribeActivations", THROTTLE, "hybrid", "offboard"),
    ("ReleaseHybridActivationFunction", "ssm.DeleteActivation", LOST_REPLY, "hybrid", "offboard"),
    ("ReleaseHybridActivationFunction", "secretsmanager.DeleteSecret", LOST_REPLY, "hybrid", "offboard"),
    ("ReleaseHybridActivationFunction", "dynamodb.TransactWriteItems", LOST_REPLY, "hybrid", "offboard"),
    ("ReleaseHybridActivationFunction", "s3.DeleteObject", TIMEOUT_BEFORE, "hybrid", "offboard"),
]
CASES = fs.numbered([(f"{o}-{f.removesuffix('Function')}-{t}-{k}-{m}", m, f, t, k, o) for f, t, k, m, o in SPEC], 100)


def failing_case(index: int, name: str, model: str, operation: str, fault: Rule | None) -> fs.Case:
    """CompleteOperation's write fails permanently: the operation is reverted (meeting ``fault`` if given)."""
    case = fs.Case(
        id=name,
        model=model,
        function="CompleteOperationFunction",
        target="dynamodb.UpdateItem",
        kind="error:ValidationException",
        operation=operation,
    )
    case.index, case.expect, case.extra = index, "failed", [fault] if fault else []
    return case


FAILING = [
    failing_case(
        100 + len(CASES),
        "change-tier-reverted-RevertGitOps-git.push-reset-after-pooled",
        "pooled",
        "change-tier",
        Rule(target="git.push", kind=RESET_AFTER, function="RevertGitOpsFunction"),
    ),
    # a hybrid tenant whose offboarding fails keeps its activation: nothing is released before the record says so
    failing_case(101 + len(CASES), "offboard-reverted-hybrid-keeps-its-activation", "hybrid", "offboard", None),
]
ALL = CASES + FAILING


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, fs.Outcome]]:
    from onboarding_local.stack import LocalStack

    with LocalStack(Path(tmp_path_factory.mktemp("faults-lifecycle")) / "stack") as stack:
        for case in ALL:
            if case.model == "remote":
                stack.bootstrap_tenant_account(ACCOUNT, case.tenant_id)
        fs.run(stack, [fs.signup(case, ACCOUNT, REGION) for case in ALL])
        resumed = [c for c in ALL if c.operation == "resume"]
        if resumed:
            fs.run(stack, [request("suspend", c.tenant_id, f"pre-{c.index}") for c in resumed])
        before = {c.id: stack.tenant(c.tenant_id) for c in ALL}
        for case in ALL:
            fs.aim(stack, case)
        fs.run(stack, [fs.operation_request(case) for case in ALL])
        outcomes = fs.outcomes(stack, ALL)
        for case in ALL:
            outcomes[case.id].before = before[case.id]
        yield outcomes


def expected(operation: str, before: dict[str, Any]) -> tuple[str, str, str]:
    """(status, tier, deployment model) after the operation."""
    if operation == "change-tier":
        return ("ACTIVE", "premium", "siloed") if before["tier"] == "basic" else ("ACTIVE", "advanced", "siloed")
    status = {"suspend": "SUSPENDED", "resume": "ACTIVE", "offboard": "OFFBOARDED"}[operation]
    return status, before["tier"], before["deploymentModel"]


OUTCOME_EVENT = {
    "suspend": "Tenant Suspended",
    "resume": "Tenant Resumed",
    "offboard": "Tenant Offboarded",
    "change-tier": "Tenant Tier Changed",
}


@pytest.mark.parametrize("case", ALL, ids=[c.id for c in ALL])
def test_a_fault_in_a_lifecycle_operation_ends_in_agreement_and_is_told_truly(
    results: dict[str, fs.Outcome], case: Any
) -> None:
    outcome = results[case.id]
    before, after = outcome.before, outcome.record
    assert before is not None and before["status"] == ("SUSPENDED" if case.operation == "resume" else "ACTIVE")
    # the fault (and any further one) was injected where aimed
    assert outcome.unfired == [], f"never fired: {outcome.unfired}"
    # record, git and AWS agree, nothing is stuck or running
    assert outcome.findings.all() == [] and outcome.running == []
    assert after is not None
    mine = [e for e in outcome.events if e.get("operationId") == f"op-{case.index:03d}"]
    kinds = [e["type"] for e in mine]
    if case.expect == "done":
        # one transient fault is retried: the operation took effect, and is announced, never as failed
        assert (after["status"], after["tier"], after["deploymentModel"]) == expected(case.operation, before)
        assert OUTCOME_EVENT[case.operation] in kinds and "Tenant Operation Failed" not in kinds
        if case.operation == "offboard":  # kept for DataRetentionDays (30 by default), and the record says until when
            offboarded, retained = (datetime.fromisoformat(after[k]) for k in ("offboardedAt", "dataRetainedUntil"))
            assert retained - offboarded == timedelta(days=30)
    else:
        # a permanent failure: reverted, the tenant as before, announced as failed and (truly) compensated
        assert (after["status"], after["tier"], after["gitCommit"]) == (
            before["status"],
            before["tier"],
            before["gitCommit"],
        )
        (failed,) = [e for e in mine if e["type"] == "Tenant Operation Failed"]
        assert failed["compensated"] is True and OUTCOME_EVENT[case.operation] not in kinds
