"""How a failure is named and explained: the execution's error name and the human reason."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from onboarding.payloads import GitOpsChange, StepError, TenantCommit
from onboarding.records import TenantRecord

if TYPE_CHECKING:
    from onboarding.lifecycle_payloads import LifecycleFailureInput


def execution_error(error: str) -> str:
    """The name the execution fails with: the step's error, except that "States." names are reserved."""
    return "Step" + error.removeprefix("States.") if error.startswith("States.") else error


def timed_out_reason(tenant_id: str, operation: str, gitops: GitOpsChange | None) -> str:
    """The reason of a wait for Flux that timed out: what was awaited, and for how long."""
    awaited = "UninstallSucceeded" if operation == "offboard" else "the HelmRelease ready (Install/UpgradeSucceeded)"
    version = f" at chart version {gitops.chart_version}" if isinstance(gitops, TenantCommit) else ""
    waited = f" within {gitops.reconcile_timeout_seconds} s" if gitops and gitops.reconcile_timeout_seconds else ""
    commit = f" after commit {gitops.commit[:12]}" if gitops and gitops.commit else ""
    return f"Flux did not report {awaited} for tenant {tenant_id}{version}{waited}{commit}"


def failure_reason(error: StepError) -> str:
    """The human reason: a Lambda error's message, or the Cause Step Functions gave."""
    try:
        cause = json.loads(error.cause)
    except ValueError:
        return error.cause or error.error
    if isinstance(cause, dict) and cause.get("errorMessage"):
        return str(cause["errorMessage"])
    return error.cause or error.error


def operation_completed(step: LifecycleFailureInput, record: TenantRecord | None) -> bool:
    """Whether CompleteOperation's write landed (only its announcement can have failed)."""
    return (
        record is not None
        and record.lock is None
        and bool(record.history)
        and record.history[-1].execution == step.execution
        and step.plan is not None
        and record.history[-1].outcome == step.plan.to_status.value
    )


def not_undone(compensation_error: StepError | None) -> str:
    """What compensation could not undo, to append to the recorded and announced reason ("" if nothing)."""
    if compensation_error is None:
        return ""
    return f"; compensation did not finish ({compensation_error.error}): {failure_reason(compensation_error)}"
