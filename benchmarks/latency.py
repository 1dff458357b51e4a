"""End-to-end latency: one signup at a time, the deployment models interleaved, after a warm-up of each."""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks.artifacts import artifact_build, artifact_summary, skopeo_steps
from benchmarks.signups import HYBRID_FIRST_OCTET, REMOTE_ACCOUNT, model_signup
from benchmarks.stats import GcMeter, summary


def execution_arn(stack: Any, name: str) -> str:
    machine_arn: str = stack.template.ref("OnboardingStateMachine")
    return machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


def latency_order(counts: dict[str, int]) -> list[tuple[str, int]]:
    """(model, index) in rounds; index -1 is each model's unmeasured warm-up.

    Each round holds every model that still needs a sample, rotated by one place per round, so the process's
    full garbage collections (about every second signup) do not all land on the same model.
    """
    order: list[tuple[str, int]] = []
    for index in range(-1, max(counts.values())):
        models = [m for m in counts if index < counts[m]]
        shift = (index + 1) % len(models)
        order += [(m, index) for m in models[shift:] + models[:shift]]
    return order


def failure_detail(stack: Any, arn: str) -> dict[str, Any]:
    """What failed, kept in the JSON (the stack's work dir is deleted): failed tasks' errors, the tenant record."""
    history = stack.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"]
    state = None
    failed_tasks = []
    for event in history:
        if event["type"].endswith("StateEntered"):
            state = event["stateEnteredEventDetails"]["name"]
        for key, details in event.items():
            if key.endswith(("FailedEventDetails", "TimedOutEventDetails")):
                error, cause = details.get("error"), details.get("cause")
                failed_tasks.append({"state": state, "event": event["type"], "error": error, "cause": cause})
    record = stack.tenant(arn.rsplit(":", 1)[-1]) or {}
    return {
        "tenantId": arn.rsplit(":", 1)[-1],
        "failedTasks": failed_tasks,
        "tenant": {k: record.get(k) for k in ("status", "failedStep", "failureReason", "attempts")},
    }


def measure_latency(
    stack: Any, run_id: str, counts: dict[str, int], timeout: float, gc_meter: GcMeter
) -> dict[str, Any]:
    """One signup at a time, the models interleaved (``latency_order``), after one unmeasured warm-up of each."""
    from onboarding.identity import derive_tenant_id
    from onboarding_local.stack import describe_execution

    sfn = stack.client("stepfunctions")
    samples: dict[str, list[dict[str, Any]]] = {model: [] for model in counts}
    failures: list[str] = []
    failure_details: list[dict[str, Any]] = []
    next_octet = iter(range(HYBRID_FIRST_OCTET, 256))
    for model, index in latency_order(counts):
        envelope = model_signup(run_id, model, index + 1, next(next_octet) if model == "hybrid" else 0)
        tenant_id = derive_tenant_id(envelope["detail"]["signupId"])
        if model == "remote":
            stack.bootstrap_tenant_account(REMOTE_ACCOUNT, tenant_id)  # the customer's part, before the signup
        builds_before = set(stack.codebuild.builds)
        first_invocation = len(stack.runtime.invocations)
        gc_before = gc_meter.ms()
        started = time.perf_counter()
        stack.put_events([envelope])
        stack.wait_idle(timeout=timeout)
        wall_ms = (time.perf_counter() - started) * 1000
        gc_ms = gc_meter.ms() - gc_before
        execution = describe_execution(sfn, execution_arn(stack, tenant_id))
        if execution["status"] != "SUCCEEDED":
            failures.append(f"{tenant_id}: {execution['status']} {execution['error']}: {execution['cause']}")
            failure_details.append({"model": model, **failure_detail(stack, execution_arn(stack, tenant_id))})
            continue
        if index < 0:
            continue  # warm-up: first clients, first git clone, first skopeo run
        handlers = stack.runtime.invocations[first_invocation:]
        sample: dict[str, Any] = {
            "tenantId": tenant_id,
            "wallMs": round(wall_ms, 1),
            "gcMs": round(gc_ms, 1),
            "executionMs": execution["durationMs"],
            "states": {s["name"]: s["durationMs"] for s in execution["states"] if s.get("attempts", 0) > 0},
            "aslRetries": sum(max(0, s.get("attempts", 0) - 1) for s in execution["states"]),
            "handlersMs": {i.function: round(i.duration_ms, 1) for i in handlers},
        }
        if model == "remote":
            build = artifact_build(stack, sorted(set(stack.codebuild.builds) - builds_before), tenant_id)
            build["stateMs"] = sample["states"].get("StartArtifactBuild")
            sample["build"] = build
        samples[model].append(sample)
    result: dict[str, Any] = {
        "n": counts,
        "failures": failures,
        "failureDetails": failure_details,
        "samples": samples,
        "summary": {model: model_summary(rows) for model, rows in samples.items() if rows},
    }
    flux = stack.flux  # the emulator's own cost: the real helm and kubectl processes it ran for these samples
    result["flux"] = {
        "renders": flux.renders,
        "eventsSent": flux.events_sent,
        "processSeconds": {k: round(v, 3) for k, v in flux.process_seconds.items()},
        "perRenderMs": round(1000 * sum(flux.process_seconds.values()) / max(1, flux.renders), 1),
    }
    builds = [r["build"] for r in samples.get("remote", []) if "buildMs" in r.get("build", {})]
    if builds:
        result["artifacts"] = {**artifact_summary(builds), "skopeoMs": skopeo_steps(stack, 5, timeout)}
    for row in samples.get("remote", []):
        if row["build"].get("status") != "SUCCEEDED":
            failures.append(f"{row['tenantId']}: artifact build {row['build']}")
    return result


def model_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One model's samples, summarised; states and handlers in the order of the first sample."""
    return {
        "executionMs": summary([r["executionMs"] for r in rows]),
        "wallMs": summary([r["wallMs"] for r in rows]),
        "gcMs": summary([r["gcMs"] for r in rows]),
        "wallMinusGcMs": summary([r["wallMs"] - r["gcMs"] for r in rows]),
        "handlersTotalMs": summary([sum(r["handlersMs"].values()) for r in rows]),
        "aslRetries": sum(r["aslRetries"] for r in rows),
        "states": {
            name: round(statistics.median(r["states"].get(name, 0.0) for r in rows), 1)
            for name in rows[0]["states"]  # execution order
        },
        "handlers": {
            name: round(statistics.median(r["handlersMs"].get(name, 0.0) for r in rows), 1)
            for name in rows[0]["handlersMs"]  # invocation order
        },
    }
