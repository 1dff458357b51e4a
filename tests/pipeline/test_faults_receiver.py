"""Fault injection at every call of the Flux receiver (issue 15): a failed call never loses Flux's verdict.

Each case is one tenant whose onboarding waits for Flux's verdict while one of the receiver's calls fails on the
verdict's event (the tenant's HelmRelease install, matched by ``<tenantId>.v1`` in the request): once (retried in
the receiver), or on every attempt of one invocation (answered 503; the Flux emulator re-delivers as
notification-controller does). Flux is paused until every execution waits, so each verdict meets its waiter and
the resume calls (SendTaskSuccess, the waiter's removal) really run. All cases on one stack, at once.

For each: the fault fired; the tenant is ACTIVE, announced with Flux's reconcile time, or (a failed install)
FAILED with Flux's own message, never by the wait's timeout; nothing stuck or left over, no execution running,
no waiter left; the verdict's event was finally accepted (202). No event of the run was answered 401.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from onboarding.steps.flux_receiver import ATTEMPTS
from onboarding_local.faults import LOST_REPLY, THROTTLE, TIMEOUT_BEFORE, Rule, arm
from tests.pipeline import faults_support as fs

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("faults-receiver")]
ACCOUNT, REGION = "222222222222", "eu-west-1"
RECEIVER = "FluxReceiverFunction"
WAITER = "waiter"  # the reconcile table's sort key of a tenant's waiter (adapters/dynamodb/reconcile.py)


@dataclass
class Case:
    id: str
    model: str
    target: str
    kind: str
    times: int = 1  # ATTEMPTS (x3): every attempt of one invocation fails, the answer is 503, Flux re-delivers
    after: int = 0  # matching calls let through first (the waiter's GetItem comes after the tenant record's)
    fail_install: bool = False  # Flux reports InstallFailed: the verdict is a failure (SendTaskFailure)
    index: int = 0
    rules: list[Rule] = field(default_factory=list)

    @property
    def fs_case(self) -> fs.Case:
        return fs.Case(id=self.id, model=self.model, function=RECEIVER, target=self.target, kind=self.kind,
                       index=self.index)  # fmt: skip


SPEC = [
    Case("GetSecretValue-throttle-pooled", "pooled", "secretsmanager.GetSecretValue", THROTTLE),
    Case("GetSecretValue-timeout-x3-siloed", "siloed", "secretsmanager.GetSecretValue", TIMEOUT_BEFORE, ATTEMPTS),
    Case("GetItem-tenant-lost-reply-remote", "remote", "dynamodb.GetItem", LOST_REPLY),
    Case("PutItem-verdict-lost-reply-pooled", "pooled", "dynamodb.PutItem", LOST_REPLY),
    Case("GetItem-waiter-throttle-siloed", "siloed", "dynamodb.GetItem", THROTTLE, after=1),
    Case("SendTaskSuccess-lost-reply-pooled", "pooled", "states.SendTaskSuccess", LOST_REPLY),
    Case("SendTaskSuccess-throttle-siloed", "siloed", "states.SendTaskSuccess", THROTTLE),
    Case("SendTaskSuccess-timeout-remote", "remote", "states.SendTaskSuccess", TIMEOUT_BEFORE),
    Case("SendTaskSuccess-lost-reply-x3-pooled", "pooled", "states.SendTaskSuccess", LOST_REPLY, ATTEMPTS),
    Case("DeleteItem-waiter-lost-reply-siloed", "siloed", "dynamodb.DeleteItem", LOST_REPLY),
    Case("SendTaskFailure-lost-reply-pooled", "pooled", "states.SendTaskFailure", LOST_REPLY, fail_install=True),
]
for n, c in enumerate(SPEC):
    c.index = 60 + n  # hybrid_detail's CIDRs and fx-<index> signup ids apart from the other fault suites


def verdict_match(case: Case) -> str:
    """A string only in the request carrying the tenant's HelmRelease install event (success or failure)."""
    return f"{case.fs_case.tenant_id}.v1"


def waiting(stack: Any, tenant_ids: list[str]) -> bool:
    dynamodb, table = stack.client("dynamodb"), stack.template.ref("ReconcileTable")
    return all(
        dynamodb.get_item(TableName=table, Key={"tenantId": {"S": t}, "key": {"S": WAITER}}, ConsistentRead=True)
        .get("Item") is not None
        for t in tenant_ids
    )  # fmt: skip


@dataclass
class Result:
    outcome: fs.Outcome
    deliveries: list[Any]  # the Flux emulator's posts of the tenant's install event
    waiter_left: bool


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Result], list[Any]]]:
    from onboarding_local.stack import LocalStack

    workdir = Path(tmp_path_factory.mktemp("faults-receiver")) / "stack"
    # a verdict lost for good fails its execution after this wait, instead of 15 minutes
    with LocalStack(workdir, parameters={"ReconcileTimeoutSeconds": "300"}) as stack:
        assert stack.flux is not None
        cases = [c.fs_case for c in SPEC]
        injector = arm(stack)
        for case, spec in zip(cases, SPEC, strict=True):
            if case.model == "remote":
                stack.bootstrap_tenant_account(ACCOUNT, case.tenant_id)
            rule = Rule(spec.target, spec.kind, times=spec.times, after=spec.after, match=verdict_match(spec),
                        function=RECEIVER)  # fmt: skip
            case.rules = [injector.add(rule)]
            if spec.fail_install:
                stack.flux.fail_next(case.tenant_id, "InstallFailed", f"injected: release {case.tenant_id}.v1 failed")
        # Flux waits until every execution waits for it: each verdict then meets its waiter
        stack.flux.paused = True
        stack.put_events([fs.signup(case, ACCOUNT, REGION) for case in cases])
        deadline = time.monotonic() + 600
        while not waiting(stack, [c.tenant_id for c in cases]):
            assert time.monotonic() < deadline, "the executions did not all reach AwaitReconcile"
            time.sleep(0.2)
        stack.flux.paused = False
        stack.wait_idle(600)
        outcomes = fs.outcomes(stack, cases)
        sent = list(stack.flux.sent)
        results = {}
        for case, spec in zip(cases, SPEC, strict=True):
            mine = [d for d in sent if verdict_match(spec) in d.payload.get("message", "")]
            left = waiting(stack, [case.tenant_id])
            results[case.id] = Result(outcomes[case.id], mine, left)
        yield results, sent


@pytest.mark.parametrize("spec", SPEC, ids=[c.id for c in SPEC])
def test_a_fault_in_the_receiver_does_not_lose_the_verdict(
    results: tuple[dict[str, Result], list[Any]], spec: Case
) -> None:
    result = results[0][spec.fs_case.id]
    outcome = result.outcome
    # the fault was injected where aimed: the receiver's call, on the verdict's event
    assert outcome.unfired == [], f"never fired: {outcome.unfired}"
    # nothing stuck, orphaned, divergent or left over; no execution running; no waiter left behind
    assert outcome.findings.all() == [] and outcome.running == [] and not result.waiter_left
    # the verdict's event was accepted in the end; a call failing on every attempt was a 503 first, re-delivered
    (delivery,) = result.deliveries
    assert delivery.status == 202, delivery.attempts
    assert 401 not in delivery.attempts
    if spec.times == ATTEMPTS:
        assert delivery.attempts[0] == 503 and len(delivery.attempts) >= 2
    record = outcome.record
    assert record is not None
    types = [e["type"] for e in outcome.events]
    if spec.fail_install:
        # Flux's failure reached the execution (not the wait's timeout), which was compensated truly
        assert record["status"] == "FAILED"
        (failed,) = [e for e in outcome.events if e["type"] == "Tenant Onboarding Failed"]
        assert "InstallFailed" in failed["cause"] and failed["compensated"] is True
        assert "Tenant Onboarded" not in types
    else:
        # ACTIVE on Flux's word: announced once, with the time Flux reported it
        assert record["status"] == "ACTIVE" and record.get("reconciledAt")
        assert types.count("Tenant Onboarded") == 1 and "Tenant Onboarding Failed" not in types
        (onboarded,) = [e for e in outcome.events if e["type"] == "Tenant Onboarded"]
        assert onboarded.get("reconciledAt")


def test_no_event_of_the_run_was_answered_as_a_bad_signature(results: tuple[dict[str, Result], list[Any]]) -> None:
    # remote customers' clusters included: their Kustomization events name the tenant (the Alert's eventMetadata)
    sent = results[1]
    assert any(d.cluster.startswith("remote/") and d.payload["involvedObject"]["kind"] == "Kustomization" for d in sent)
    assert [d.payload["reason"] for d in sent if 401 in d.attempts] == []
