"""One test's view of a local stack that a whole test module shares.

Starting a local stack costs about 1.3 s of CPU (moto, git daemon, two registries, the chart push, Flux's first
reconcile), which was a third of a typical pipeline test. A module's tests therefore run one after the other on
one stack, as the tenants of one deployment do, and each sees only what it did itself: the status events, the
published events and the executions since it began, and the tenants that did not exist before it. Everything
else (records by id, git, clients, fault injection) is the shared stack's own.

Between tests the view waits for the stack to be idle, and puts back what a test may have left changed: armed
faults, a stopped git daemon and a paused Flux.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class ScopedStack:
    """The shared ``stack`` as one test sees it: only what happened since the test began."""

    def __init__(self, stack: Any) -> None:
        self._stack = stack
        with stack._events_lock:
            self._emitted = len(stack.emitted)
            self._published = len(stack.published)
        self._executions = set(self._execution_arns())
        self._tenants = stack.tenant_ids()
        self._commits = len(stack.git.log())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stack, name)

    # ------------------------------------------------------------------ since the test began
    def status_events(self) -> list[dict[str, Any]]:
        with self._stack._events_lock:
            return [e for e in self._stack.emitted[self._emitted :] if e["source"] == self._stack.status_source]

    def published_events(self) -> list[dict[str, Any]]:
        with self._stack._events_lock:
            return list(self._stack.published[self._published :])

    def tenants(self) -> list[dict[str, Any]]:
        """The tenants this test created (a test reads any other one by id, with ``tenant``), oldest first. Only
        their records are read: the module's stack holds every earlier test's tenants too."""
        from onboarding_local.observe import oldest_first

        new = sorted(self._stack.tenant_ids() - self._tenants)
        return oldest_first([r for r in map(self._stack.tenant, new) if r is not None])

    def executions(self) -> list[dict[str, Any]]:
        from onboarding_local.observe import describe_execution

        sfn = self._stack.client("stepfunctions")
        new = [describe_execution(sfn, arn) for arn in self._execution_arns() if arn not in self._executions]
        return sorted(new, key=lambda e: e["startDate"])

    def execution_arns(self, machine: str) -> list[str]:
        """The ARNs of this test's executions of ``machine`` (a logical id, such as ``LifecycleStateMachine``)."""
        arns = self._execution_arns(self._stack.template.ref(machine))
        return [arn for arn in arns if arn not in self._executions]

    def new_commits(self) -> list[str]:
        """The subjects of the commits on the GitOps branch since the test began, newest first."""
        log = self._stack.git.log()
        return log[: len(log) - self._commits]

    def _execution_arns(self, machine: str | None = None) -> list[str]:
        sfn = self._stack.client("stepfunctions")
        machines = [machine] if machine else [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]
        paginator = sfn.get_paginator("list_executions")
        return [
            summary["executionArn"]
            for arn in machines
            for page in paginator.paginate(stateMachineArn=arn)
            for summary in page["executions"]
        ]


@contextmanager
def scoped(stack: Any) -> Iterator[ScopedStack]:
    """A test's view of ``stack``; afterwards the stack is idle, with no fault armed, git serving and Flux running, and
    nothing left armed for the next test."""
    stack.wait_idle(120)
    try:
        yield ScopedStack(stack)
    finally:
        try:
            if stack.git._proc is None:
                stack.git.start()
            if stack.flux is not None:
                stack.flux.paused = False  # a paused Flux counts as idle: an execution would wait out its timeout
            stack.wait_idle(120)
        finally:
            stack._faults.clear()
            # what a failed test may have left armed: a forced or silent artifact build, a lost SSM reply,
            # another writer moving the branch before the next push
            stack.codebuild.fail_next = stack.codebuild.drop_events = 0
            from onboarding_local import ssm_activations

            ssm_activations._LOST.clear()
            (stack.git.base / "move-branch-once").unlink(missing_ok=True)
