"""AwaitReconcile: wait (with the execution's task token) for Flux's verdict on what was just committed.

The waiter is recorded first, then the verdicts already recorded are checked, and FluxReceiver does the
reverse, so a verdict that arrives before the wait is never missed. A commit that changed nothing Flux
would apply is not waited for; with ReconcileFeedback=none nothing is waited for, and the result says
the state was committed, not verified.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from onboarding.payloads import StepModel
from onboarding.ports import ReconcileStore, TaskCallbacks
from onboarding.reconcile import Outcome, ReconcileWaiter


class AwaitInput(StepModel):
    tenant_id: str
    execution: str
    task_token: str
    operation: str = Field(description="onboard, offboard, change-tier, suspend or resume")
    chart_version: str | None = None
    changed: bool
    since: datetime | None = None


def not_verified(step: AwaitInput, why: str) -> dict[str, Any]:
    return {"reconciledAt": None, "reason": why, "revision": step.chart_version}


def await_reconcile(step: AwaitInput, *, store: ReconcileStore, callbacks: TaskCallbacks, feedback: str) -> str:
    if feedback == "none":
        callbacks.succeed(step.task_token, not_verified(step, "NotVerified"))
        return "not-verified"
    expect = Outcome.UNINSTALLED if step.operation == "offboard" else Outcome.READY
    since = step.since if step.changed else None
    waiter = ReconcileWaiter(
        tenant_id=step.tenant_id,
        task_token=step.task_token,
        execution=step.execution,
        expect=expect,
        chart_version=step.chart_version,
        since=since,
    )
    store.put_waiter(waiter)
    for verdict in reversed(store.verdicts_since(step.tenant_id, since)):  # the newest verdict decides
        if verdict.answers(expect, step.chart_version):
            verdict.resume(step.task_token, callbacks)
            store.remove_waiter(step.tenant_id, step.task_token)
            return "answered"
        break
    if not step.changed:
        # Nothing was applied, so Flux sends nothing (a no-op reconcile is silent): do not wait for it.
        callbacks.succeed(step.task_token, not_verified(step, "NoChange"))
        store.remove_waiter(step.tenant_id, step.task_token)
        return "no-change"
    return "waiting"
