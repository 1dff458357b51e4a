"""Fault injection at every adapter call of the onboarding pipeline (issue 15's quality bar).

One fault per case, aimed at one handler's call for one tenant: throttling, a timeout before the call took
effect, a lost reply (the call took effect, then a read timeout), a git reset before and after the push
landed. All cases run at once on one local stack. For each: the fault fired; the record, git and the AWS
resources agree at the end (onboarding_local.agreement); the outcome events tell the truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from onboarding_local.faults import LOST_REPLY, RESET_AFTER, RESET_BEFORE, THROTTLE, TIMEOUT_BEFORE, Rule
from tests.pipeline import faults_support as fs

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("faults-onboarding")]
ACCOUNT, REGION = "222222222222", "eu-west-1"
# (function, call, fault, model): every call the onboarding handlers make, each with one fault; every call whose
# effect is uncertain gets the lost reply; throttling and timeouts are spread over the rest and every step.
SPEC = [
    ("IntakeFunction", "dynamodb.GetItem", THROTTLE, "pooled"),
    ("IntakeFunction", "states.StartExecution", LOST_REPLY, "siloed"),
    ("RegisterTenantFunction", "dynamodb.GetItem", TIMEOUT_BEFORE, "pooled"),
    ("RegisterTenantFunction", "dynamodb.TransactWriteItems", LOST_REPLY, "hybrid"),
    ("RegisterTenantFunction", "events.PutEvents", THROTTLE, "siloed"),
    ("CommitGitOpsFunction", "git.fetch", RESET_BEFORE, "pooled"),
    ("CommitGitOpsFunction", "git.push", RESET_BEFORE, "siloed"),
    ("CommitGitOpsFunction", "git.push", RESET_AFTER, "remote"),
    ("CommitGitOpsFunction", "git.push", RESET_AFTER, "pooled"),
    ("CommitGitOpsFunction", "ssm.GetParameter", TIMEOUT_BEFORE, "siloed"),
    ("AwaitReconcileFunction", "dynamodb.PutItem", LOST_REPLY, "pooled"),
    ("AwaitReconcileFunction", "dynamodb.Query", THROTTLE, "siloed"),
    ("ActivateTenantFunction", "dynamodb.UpdateItem", LOST_REPLY, "hybrid"),
    ("ActivateTenantFunction", "events.PutEvents", LOST_REPLY, "pooled"),
    ("ActivateTenantFunction", "events.PutEvents", TIMEOUT_BEFORE, "siloed"),
    ("CreateHybridActivationFunction", "ssm.DescribeActivations", THROTTLE, "hybrid"),
    ("CreateHybridActivationFunction", "ssm.CreateActivation", LOST_REPLY, "hybrid"),
    ("CreateHybridActivationFunction", "secretsmanager.CreateSecret", LOST_REPLY, "hybrid"),
    ("CreateHybridActivationFunction", "s3.PutObject", TIMEOUT_BEFORE, "hybrid"),
    ("VerifyTenantAccessFunction", "sts.AssumeRole", THROTTLE, "remote"),
    ("EnsureTenantRegistryFunction", "api.ecr.CreateRepository", LOST_REPLY, "remote"),
    ("EnsureTenantRegistryFunction", "api.ecr.PutLifecyclePolicy", TIMEOUT_BEFORE, "remote"),
    ("StartArtifactBuildFunction", "codebuild.StartBuild", LOST_REPLY, "remote"),
    ("BuildCallbackFunction", "states.SendTaskSuccess", LOST_REPLY, "remote"),
]
CASES = fs.numbered([(f"{f.removesuffix('Function')}-{t}-{k}-{m}", m, f, t, k, None) for f, t, k, m in SPEC], 0)


def compensation_case(index: int, name: str, model: str, failing: tuple[str, str], fault: Rule) -> fs.Case:
    """ActivateTenant (the last step) fails permanently; compensation meets ``fault`` while undoing."""
    function, target = failing
    case = fs.Case(id=name, model=model, function=function, target=target, kind="error:ValidationException")
    case.index, case.expect, case.extra = index, "failed", [fault]
    return case


COMPENSATION = [
    compensation_case(
        len(CASES),
        "Compensate-git.push-reset-after-pooled",
        "pooled",
        ("ActivateTenantFunction", "dynamodb.UpdateItem"),
        Rule(target="git.push", kind=RESET_AFTER, function="CompensateFunction"),
    ),
    compensation_case(
        len(CASES) + 1,
        "Compensate-ssm.DeleteActivation-lost-reply-hybrid",
        "hybrid",
        ("ActivateTenantFunction", "dynamodb.UpdateItem"),
        Rule(target="ssm.DeleteActivation", kind=LOST_REPLY, function="CompensateFunction"),
    ),
    compensation_case(
        len(CASES) + 2,
        "Compensate-ecr.DeleteRepository-lost-reply-remote",
        "remote",
        ("ActivateTenantFunction", "dynamodb.UpdateItem"),
        Rule(target="api.ecr.DeleteRepository", kind=LOST_REPLY, function="CompensateFunction"),
    ),
]
ALL = CASES + COMPENSATION


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, fs.Outcome]]:
    from onboarding_local.stack import LocalStack

    with LocalStack(Path(tmp_path_factory.mktemp("faults-onboarding")) / "stack") as stack:
        for case in ALL:
            if case.model == "remote":
                stack.bootstrap_tenant_account(ACCOUNT, case.tenant_id)
            fs.aim(stack, case)
        fs.run(stack, [fs.signup(case, ACCOUNT, REGION) for case in ALL])
        yield fs.outcomes(stack, ALL)


def types(outcome: fs.Outcome) -> list[str]:
    return [e["type"] for e in outcome.events]


@pytest.mark.parametrize("case", ALL, ids=[c.id for c in ALL])
def test_a_fault_in_onboarding_ends_in_agreement_and_is_told_truly(results: dict[str, fs.Outcome], case: Any) -> None:
    outcome = results[case.id]
    # the fault (and any further one) was injected where aimed
    assert outcome.unfired == [], f"never fired: {outcome.unfired}"
    # record, git and AWS agree, nothing is stuck or running
    assert outcome.findings.all() == [] and outcome.running == []
    record = outcome.record
    assert record is not None
    if case.expect == "done":
        # one transient fault is retried: the tenant is ACTIVE and announced as such, never as failed
        assert record["status"] == "ACTIVE", record.get("failureReason")
        assert "Tenant Onboarded" in types(outcome) and "Tenant Onboarding Failed" not in types(outcome)
    else:
        # a permanent failure: FAILED, and compensation, retried through its own fault, undid everything
        assert record["status"] == "FAILED"
        (failed,) = [e for e in outcome.events if e["type"] == "Tenant Onboarding Failed"]
        assert failed["compensated"] is True and "Tenant Onboarded" not in types(outcome)
