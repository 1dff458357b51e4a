"""The local stack with handler worker processes (``LocalStack(workers=N)``, what the burst benchmark runs): the
pipeline behaves as with in-process handlers, the stack's process keeps the record of every invocation, fault
injection still reaches the handlers, and stopping the stack ends its workers."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from onboarding.identity import derive_tenant_id
from onboarding_local.stack import LocalStack
from tests.conftest import signup_event

pytestmark = pytest.mark.xdist_group("local-workers")


@pytest.fixture(scope="module")
def worker_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """One stack for the module (one runs per process at a time); stopping it must end its workers."""
    with LocalStack(tmp_path_factory.mktemp("workers"), workers=2) as stack:
        pids = [w.pid for w in stack.runtime._pool.workers]  # type: ignore[union-attr]
        yield stack
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # already waited for: no process left, no zombie


def test_signups_become_active_with_handlers_in_a_worker_process(worker_stack: LocalStack) -> None:
    # Given: a stack whose handlers run in two worker processes
    pids = {w.pid for w in worker_stack.runtime._pool.workers}  # type: ignore[union-attr]
    assert len(pids) == 2 and os.getpid() not in pids
    events = [signup_event(f"workers-{i}", f"Workers {i}", tier) for i, tier in enumerate(("basic", "premium"))]
    first = len(worker_stack.runtime.invocations)
    answered = worker_stack.runtime._pool.answered  # type: ignore[union-attr]

    # When: two signups arrive at once
    worker_stack.put_events(events)
    worker_stack.wait_idle(120)

    # Then: both are ACTIVE, each with its own commit, and this process recorded every invocation the worker ran
    for event in events:
        record = worker_stack.tenant(derive_tenant_id(event["detail"]["signupId"]))
        assert record is not None and record["status"] == "ACTIVE" and record["gitCommit"]
    ran = Counter(i.function for i in worker_stack.runtime.invocations[first:])
    for function in ("IntakeFunction", "RegisterTenantFunction", "CommitGitOpsFunction", "ActivateTenantFunction"):
        assert ran[function] == 2, ran
    # every one of them ran in a worker process, not in this one
    assert worker_stack.runtime._pool.answered - answered == len(worker_stack.runtime.invocations[first:])  # type: ignore[union-attr]
    assert worker_stack.runtime.worker_cpu_seconds() > 0


# Last in the module: once a fault is configured, the stack runs its invocations in-process for the rest of its life.
def test_an_injected_fault_reaches_the_handlers(worker_stack: LocalStack) -> None:
    # Given: the tenant registration's write is throttled once (fault rules live in the stack's process)
    worker_stack.inject_fault("dynamodb", "TransactWriteItems", "ProvisionedThroughputExceededException", times=1)
    event = signup_event("workers-fault", "Workers Fault")
    tenant_id = derive_tenant_id("workers-fault")

    # When
    worker_stack.put_events([event])
    worker_stack.wait_idle(120)

    # Then: the registration failed once inside its handler, and the state machine's retry recovered
    record: dict[str, Any] | None = worker_stack.tenant(tenant_id)
    assert record is not None and record["status"] == "ACTIVE"
    execution = next(e for e in worker_stack.executions() if e["name"] == tenant_id)
    register = next(s for s in execution["states"] if s["name"] == "RegisterTenant")
    assert register["attempts"] == 2
