"""Burst: distinct signups of mixed tiers put at once; throughput, and the GitOps repository's integrity."""

from __future__ import annotations

import resource
import time
from collections import Counter
from typing import Any

from benchmarks.signups import signup
from benchmarks.stats import GcMeter


def list_executions(stack: Any) -> list[dict[str, Any]]:
    """Every execution summary (moto pages list_executions by 100)."""
    sfn = stack.client("stepfunctions")
    paginator = sfn.get_paginator("list_executions")
    machine_arn = stack.template.ref("OnboardingStateMachine")
    return [e for page in paginator.paginate(stateMachineArn=machine_arn) for e in page["executions"]]


def measure_burst(stack: Any, run_id: str, size: int, timeout: float, gc_meter: GcMeter) -> dict[str, Any]:
    """``size`` distinct signups of mixed tiers put at once; throughput and GitOps integrity."""
    from onboarding.identity import derive_tenant_id
    from onboarding.manifests import GitOpsLayout, tenant_path
    from onboarding_local.stack import describe_execution

    tiers = ("basic", "premium", "advanced")
    envelopes = [signup(run_id, "burst", i, tiers[i % len(tiers)]) for i in range(size)]
    expected = {derive_tenant_id(e["detail"]["signupId"]): e["detail"]["tier"] for e in envelopes}
    stack.put_events([signup(run_id, "burst-warmup", 0, "basic")])  # first clients, first git clone
    stack.wait_idle(timeout=timeout)
    first_invocation = len(stack.runtime.invocations)
    paused_before_ms = sum(stack.runtime.paused_ms.values())
    gc_before = gc_meter.ms()
    cpu_before = _cpu_seconds(stack)
    started = time.perf_counter()
    stack.put_events(envelopes)
    put_s = time.perf_counter() - started
    stack.wait_idle(timeout=timeout)
    wall_s = time.perf_counter() - started
    cpu_s = [after - before for after, before in zip(_cpu_seconds(stack), cpu_before, strict=True)]
    gc_s = (gc_meter.ms() - gc_before) / 1000
    handlers = stack.runtime.invocations[first_invocation:]

    records = {t["tenantId"]: t for t in stack.tenants() if t["tenantId"] in expected}
    active = sorted(tid for tid, record in records.items() if record.get("status") == "ACTIVE")
    per = max(1, len(active))
    files = set(stack.git.files())
    commits_per_tenant = onboard_commits(stack)
    lost = sorted(
        tid for tid in active if commits_per_tenant[tid] == 0 or tenant_path(tid, GitOpsLayout()) not in files
    )
    duplicated = {tid: count for tid, count in commits_per_tenant.items() if tid in expected and count > 1}
    not_active = {tid: (records[tid].get("status") if tid in records else "MISSING") for tid in expected}
    not_active = {tid: status for tid, status in not_active.items() if status != "ACTIVE"}

    sfn = stack.client("stepfunctions")
    executions = [e for e in list_executions(stack) if e["name"] in expected]
    statuses = Counter(e["status"] for e in executions)
    retried = [
        e["name"]
        for e in executions
        if any(s.get("attempts", 0) > 1 for s in describe_execution(sfn, e["executionArn"])["states"])
    ]
    # a batching writer waiting for its batch let other handlers run meanwhile: that time is theirs
    paused_s = (sum(stack.runtime.paused_ms.values()) - paused_before_ms) / 1000
    handler_s = sum(i.duration_ms for i in handlers) / 1000 - paused_s
    pushes = len({records[tid].get("gitCommit") for tid in active})
    return {
        "size": size,
        "tiers": dict(Counter(expected.values())),
        "putSeconds": round(put_s, 3),
        "wallSeconds": round(wall_s, 3),
        "active": len(active),
        "tenantsPerSecond": round(len(active) / wall_s, 2),
        "msPerTenant": round(wall_s * 1000 / max(1, len(active)), 1),
        "handlerInvocations": dict(Counter(i.function for i in handlers)),
        "handlerSeconds": round(handler_s, 3),
        "handlerShareOfWall": round(handler_s / wall_s, 3),
        "gcSeconds": round(gc_s, 3),
        # CPU seconds per ACTIVE tenant: this process (the stack, the engine, and the handlers unless workers run
        # them), the handler worker processes, and the tools (git, helm, kubectl): what the burst costs whatever
        # else the machine runs; tenants/s is bound by it on 2 cores
        "workers": getattr(stack, "workers", 0),
        "cpuMsPerTenant": {
            "process": round(cpu_s[0] * 1000 / per, 1),
            "workers": round(cpu_s[2] * 1000 / per, 1),
            "tools": round(cpu_s[1] * 1000 / per, 1),
        },
        "executions": dict(statuses),
        "executionsWithAslRetries": retried,
        "notActive": not_active,
        "lostCommits": len(lost),
        "lostTenants": lost,
        "duplicatedCommits": sum(count - 1 for count in duplicated.values()),
        "duplicatedTenants": duplicated,
        "gitopsPushes": pushes,  # distinct commits carrying the ACTIVE tenants' files
        "pushesPerTenant": round(pushes / max(1, len(active)), 3),
    }


def onboard_commits(stack: Any) -> Counter[str]:
    """Per tenant, how many commits of main onboard it: a commit's own subject, or a line of a batch's message."""
    counts: Counter[str] = Counter()
    for message in stack.git.git("log", "--format=%B%x00", "main").split("\x00"):
        named = {
            line.lstrip("* ").split()[2]
            for line in message.splitlines()
            if line.lstrip("* ").startswith("Onboard tenant ")
        }
        counts.update(named)
    return counts


def _cpu_seconds(stack: Any) -> tuple[float, float, float]:
    """CPU seconds (user + system) of this process, of its finished child processes (the tools), and of the
    stack's handler worker processes (alive: they are not among the finished children)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime, stack.runtime.worker_cpu_seconds()
