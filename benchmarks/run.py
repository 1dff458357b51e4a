"""Benchmarks of the onboarding pipeline on the embedded local stack, and of the functions' cold imports.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/run.py --help``). Three measurements:

1. latency: one signup at a time, the deployment models interleaved: pooled (tier basic), siloed (tier
   premium), remote (the customer's AWS account: VerifyTenantAccess, EnsureTenantRegistry, and a real
   CodeBuild-emulated skopeo copy of the release in StartArtifactBuild) and hybrid (EKS Hybrid Nodes: an SSM
   activation, private CIDRs of its own per tenant); for each, the execution's own duration and the wall
   clock from PutEvents until the stack is idle. For remote tenants also the release copy: each build's
   duration from CodeBuild's own start and end times, and the images and bytes it put in the tenant registry;
2. burst: distinct signups of mixed tiers put at once; tenants ACTIVE per second of wall time, and the
   GitOps integrity checks (no ACTIVE tenant without its commit and file, no tenant committed twice);
3. imports: each function's ``app.py`` loaded from its path in a fresh interpreter, against ``import boto3``.

A table is printed and every sample is written as JSON under ``.bench/`` (gitignored). The exit status is
non-zero when an onboarding or a release copy did not succeed, or the burst lost or duplicated a commit or
left a tenant not ACTIVE. There are no timing thresholds.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import warnings
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO_ROOT / ".bench"
SIGNUP_SOURCE = "saas.signup"
SIGNUP_DETAIL_TYPE = "Tenant Signup Requested"
MODEL_TIER = {"pooled": "basic", "siloed": "premium"}  # remote and hybrid signups are tier advanced
REMOTE_ACCOUNT, REMOTE_REGION = "222222222222", "eu-west-1"  # the customer's account (tests/pipeline/test_remote.py)
HYBRID_FIRST_OCTET = 100  # hybrid tenant i claims 10.<100+i>.0.0/24 and 10.<100+i>.128.0/20: no overlaps
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMPORT_SNIPPET = (
    "import time,sys,importlib.util\n"
    "t=time.perf_counter()\n"
    "spec=importlib.util.spec_from_file_location('app', sys.argv[1])\n"
    "module=importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "print(time.perf_counter()-t)\n"
)
BOTO3_SNIPPET = "import time\nt=time.perf_counter()\nimport boto3\nprint(time.perf_counter()-t)\n"


# ---------------------------------------------------------------------------------------------- statistics
def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile: the smallest value with at least 95% of the samples at or below it."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(0.95 * len(ordered))) - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median": round(statistics.median(values), 1),
        "p95": round(p95(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


class GcMeter:
    """Wall time spent in the cyclic garbage collector of this process (the stack's and the handlers' heap)."""

    def __init__(self) -> None:
        self.total_s = 0.0
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total_s += time.perf_counter() - self._started

    def __enter__(self) -> GcMeter:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def ms(self) -> float:
        return self.total_s * 1000


# ---------------------------------------------------------------------------------------------- machine
def machine() -> dict[str, Any]:
    cpu_model = "unknown"
    mem_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
                break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def revision() -> dict[str, Any]:
    """The commit measured; BENCH_REVISION names it when running from an export (git archive) of a commit."""
    if os.environ.get("BENCH_REVISION"):
        return {"commit": os.environ["BENCH_REVISION"], "dirty": False}

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
        return result.stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or "unknown", "dirty": bool(git("status", "--porcelain"))}


# ---------------------------------------------------------------------------------------------- pipeline
def signup(run_id: str, label: str, index: int, tier: str, **extra: Any) -> dict[str, Any]:
    """An EventBridge envelope like events/signup-*.json, unique by signupId and by tenant name."""
    return {
        "source": SIGNUP_SOURCE,
        "detail-type": SIGNUP_DETAIL_TYPE,
        "detail": {
            "signupId": f"bench-{run_id}-{label}-{index:04d}",
            "tenantName": f"Bench {run_id} {label} {index:04d}",
            "adminEmail": f"admin-{label}-{index:04d}@bench.example",
            "tier": tier,
            **extra,
        },
    }


def model_signup(run_id: str, model: str, index: int, cidr_octet: int) -> dict[str, Any]:
    """A signup of ``model``; hybrid ones get private ranges of their own (10.<cidr_octet>.0.0/16)."""
    if model == "remote":
        remote = {"deploymentModel": "remote", "awsAccountId": REMOTE_ACCOUNT, "region": REMOTE_REGION}
        return signup(run_id, model, index, "advanced", **remote)
    if model == "hybrid":
        hybrid = {
            "nodeCidrs": [f"10.{cidr_octet}.0.0/24"],
            "podCidrs": [f"10.{cidr_octet}.128.0/20"],
            "nodeCount": 2,
            "supportingServices": "bundled",
        }
        return signup(run_id, model, index, "advanced", deploymentModel="hybrid", hybrid=hybrid)
    return signup(run_id, model, index, MODEL_TIER[model])


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


def registry_get(host: str, path: str, accept: str) -> bytes:
    request = urllib.request.Request(f"http://{host}/v2/{path}", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:  # loopback registry of the local stack
        body: bytes = response.read()
        return body


def image_bytes(host: str, repository: str, reference: str) -> int:
    """Bytes of one multi-arch image as stored: its index, each platform's manifest, config and layers."""
    index = registry_get(host, f"{repository}/manifests/{reference}", OCI_INDEX)
    total = len(index)
    for entry in json.loads(index)["manifests"]:
        manifest = registry_get(host, f"{repository}/manifests/{entry['digest']}", entry["mediaType"])
        parsed = json.loads(manifest)
        total += len(manifest) + parsed["config"]["size"] + sum(layer["size"] for layer in parsed["layers"])
    return total


def artifact_build(stack: Any, build_ids: Sequence[str], tenant_id: str) -> dict[str, Any]:
    """The release copy of one remote tenant: CodeBuild's own start and end times, and what it copied."""
    from onboarding_local.stack import RELEASE_VERSION

    if len(build_ids) != 1:
        return {"error": f"expected one build, found {len(build_ids)}"}
    (build,) = stack.client("codebuild").batch_get_builds(ids=list(build_ids))["builds"]
    outcome = stack.codebuild.builds[build_ids[0]]
    images = [i.name for i in stack.release]
    return {
        "buildId": build_ids[0],
        "status": outcome.status,
        "buildMs": round((build["endTime"] - build["startTime"]).total_seconds() * 1000, 1),
        "images": len(images),
        "bytes": sum(image_bytes(stack.tenant_registry.host, f"{tenant_id}/{n}", RELEASE_VERSION) for n in images),
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
        "summary": {},
    }
    for model, rows in samples.items():
        if not rows:
            continue
        result["summary"][model] = {
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
    builds = [r["build"] for r in samples.get("remote", []) if "buildMs" in r.get("build", {})]
    if builds:
        result["artifacts"] = {**artifact_summary(builds), "skopeoMs": skopeo_steps(stack, 5, timeout)}
    for row in samples.get("remote", []):
        if row["build"].get("status") != "SUCCEEDED":
            failures.append(f"{row['tenantId']}: artifact build {row['build']}")
    return result


def artifact_summary(builds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-build duration, and what it moved: images and bytes per build, per second of build time."""
    images = statistics.median_low(b["images"] for b in builds)
    size = statistics.median_low(b["bytes"] for b in builds)
    build_ms = statistics.median(b["buildMs"] for b in builds)
    return {
        "builds": len(builds),
        "buildMs": summary([b["buildMs"] for b in builds]),
        "stateMs": summary([b["stateMs"] for b in builds]),
        "callbackPathMs": summary([b["stateMs"] - b["buildMs"] for b in builds]),
        "imagesPerBuild": images,
        "bytesPerBuild": size,
        "msPerImage": round(build_ms / images, 1),
        "imagesPerSecond": round(images * 1000 / build_ms, 2),
        "kibPerSecond": round(size / 1024 * 1000 / build_ms, 2),
    }


def skopeo_steps(stack: Any, repeats: int, timeout: float) -> dict[str, Any]:
    """The buildspec's per-image steps, run alone (median ms of ``repeats``): what one image costs, without bash.

    ``skopeo --version`` (process start), ``skopeo copy --all --preserve-digests`` of one release image into a
    new repository of the tenant registry (as the build does), and ``skopeo inspect --raw`` of the copy.
    """
    image = stack.release[0]
    source = f"docker://{image.repository}@{image.digest}"
    copy = ["skopeo", "copy", "--quiet", "--all", "--preserve-digests", "--src-tls-verify=false"]
    samples: dict[str, list[float]] = {"version": [], "copy": [], "inspect": []}
    for i in range(repeats):
        target = f"docker://{stack.tenant_registry.host}/bench-skopeo/{image.name}-{i}:probe"
        commands = {
            "version": ["skopeo", "--version"],
            "copy": [*copy, "--dest-tls-verify=false", source, target],
            "inspect": ["skopeo", "inspect", "--raw", "--tls-verify=false", target],
        }
        for step, command in commands.items():
            started = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
            if result.returncode != 0:
                return {"error": f"skopeo {step}: {result.stderr.strip()[-500:]}"}
            samples[step].append((time.perf_counter() - started) * 1000)
    return {step: round(statistics.median(values), 1) for step, values in samples.items()}


def list_executions(stack: Any) -> list[dict[str, Any]]:
    """Every execution summary (moto pages list_executions by 100)."""
    sfn = stack.client("stepfunctions")
    paginator = sfn.get_paginator("list_executions")
    machine_arn = stack.template.ref("OnboardingStateMachine")
    return [e for page in paginator.paginate(stateMachineArn=machine_arn) for e in page["executions"]]


def measure_burst(stack: Any, run_id: str, size: int, timeout: float, gc_meter: GcMeter) -> dict[str, Any]:
    """``size`` distinct signups of mixed tiers put at once; throughput and GitOps integrity."""
    from onboarding.identity import derive_tenant_id
    from onboarding_local.stack import describe_execution

    tiers = ("basic", "premium", "advanced")
    envelopes = [signup(run_id, "burst", i, tiers[i % len(tiers)]) for i in range(size)]
    expected = {derive_tenant_id(e["detail"]["signupId"]): e["detail"]["tier"] for e in envelopes}
    stack.put_events([signup(run_id, "burst-warmup", 0, "basic")])  # first clients, first git clone
    stack.wait_idle(timeout=timeout)
    first_invocation = len(stack.runtime.invocations)
    gc_before = gc_meter.ms()
    started = time.perf_counter()
    stack.put_events(envelopes)
    put_s = time.perf_counter() - started
    stack.wait_idle(timeout=timeout)
    wall_s = time.perf_counter() - started
    gc_s = (gc_meter.ms() - gc_before) / 1000
    handlers = stack.runtime.invocations[first_invocation:]

    records = {t["tenantId"]: t for t in stack.tenants() if t["tenantId"] in expected}
    active = sorted(tid for tid, record in records.items() if record.get("status") == "ACTIVE")
    subjects = stack.git.log()
    files = set(stack.git.files())
    commits_per_tenant = Counter(s.split()[2] for s in subjects if s.startswith("Onboard tenant "))
    lost = sorted(tid for tid in active if commits_per_tenant[tid] == 0 or f"tenants/{tid}.yaml" not in files)
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
    handler_s = sum(i.duration_ms for i in handlers) / 1000
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
        "executions": dict(statuses),
        "executionsWithAslRetries": retried,
        "notActive": not_active,
        "lostCommits": len(lost),
        "lostTenants": lost,
        "duplicatedCommits": sum(count - 1 for count in duplicated.values()),
        "duplicatedTenants": duplicated,
    }


# ---------------------------------------------------------------------------------------------- imports
def import_env() -> dict[str, str]:
    """A Lambda-like environment: the template's Globals, a region, no endpoint, no credentials.

    Bytecode goes to .bench/pycache (PYTHONPYCACHEPREFIX), so nothing is written into the source tree.
    """
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO_ROOT / "layers" / "shared"),
        "PYTHONPYCACHEPREFIX": str(BENCH_DIR / "pycache"),
        "POWERTOOLS_SERVICE_NAME": "tenant-onboarding",
        "POWERTOOLS_METRICS_NAMESPACE": "TenantOnboarding",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }


def time_fresh_process(code: str, args: Sequence[str], repeats: int, timeout: float) -> list[float]:
    """Milliseconds reported by ``code`` in ``repeats`` fresh interpreters, after one unmeasured warm-up."""
    env = import_env()
    samples: list[float] = []
    for attempt in range(repeats + 1):
        result = subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"import failed ({' '.join(args) or 'boto3'}):\n{result.stderr[-2000:]}")
        if attempt > 0:  # the warm-up fills the bytecode cache and the page cache
            samples.append(float(result.stdout.strip().splitlines()[-1]) * 1000)
    return samples


def measure_imports(repeats: int, timeout: float) -> dict[str, Any]:
    boto3_samples = time_fresh_process(BOTO3_SNIPPET, [], repeats, timeout)
    boto3_median = statistics.median(boto3_samples)
    functions: dict[str, Any] = {}
    for app in sorted((REPO_ROOT / "functions").glob("*/app.py")):
        samples = time_fresh_process(IMPORT_SNIPPET, [str(app)], repeats, timeout)
        median = statistics.median(samples)
        functions[app.parent.name] = {
            "samplesMs": [round(s, 1) for s in samples],
            "medianMs": round(median, 1),
            "ratioToBoto3": round(median / boto3_median, 2),
        }
    return {
        "repeats": repeats,
        "boto3": {"samplesMs": [round(s, 1) for s in boto3_samples], "medianMs": round(boto3_median, 1)},
        "functions": functions,
    }


# ---------------------------------------------------------------------------------------------- report
def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))

    return "\n".join([line(cells[0]), line(["-" * w for w in widths]), *(line(r) for r in cells[1:])])


def by_model(models: Sequence[str], key: str, summaries: dict[str, Any], total: Any) -> str:
    """Rows: the handlers (or states) of every model in first-seen order; columns: the models."""
    names = list(dict.fromkeys(name for model in models for name in summaries[model][key]))
    rows = [[name.removesuffix("Function"), *(summaries[m][key].get(name, "-") for m in models)] for name in names]
    if total is not None:
        rows.append(["sum", *(total(summaries[m]) for m in models)])
    return table([key.rstrip("s"), *models], rows)


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    out = [
        f"machine: {m['nproc']} CPUs, {m['cpu_model']}, {m['ram_gib']} GiB RAM, Python {m['python']}",
        f"revision: {report['revision']['commit'][:12]}{' (dirty)' if report['revision']['dirty'] else ''}",
        "load average (1, 5, 15 min) at start {} and end {}".format(
            *(", ".join(f"{v:.2f}" for v in report.get(k, [])) for k in ("loadAverageAtStart", "loadAverageAtEnd"))
        ),
    ]
    if "latency" in report:
        lat = report["latency"]
        models = list(lat["summary"])
        rows = []
        for model, s in lat["summary"].items():
            e, w = s["executionMs"], s["wallMs"]
            gc_ms, net = s["gcMs"], s["wallMinusGcMs"]
            rows.append(
                [
                    model,
                    e["n"],
                    e["median"],
                    e["p95"],
                    w["median"],
                    w["p95"],
                    gc_ms["median"],
                    net["median"],
                    net["p95"],
                    s["aslRetries"],
                ]
            )
        out += [
            "",
            "1. end-to-end latency, one signup at a time (ms)",
            table(
                [
                    "model",
                    "n",
                    "exec median",
                    "exec p95",
                    "wall median",
                    "wall p95",
                    "GC median",
                    "wall-GC median",
                    "wall-GC p95",
                    "ASL retries",
                ],
                rows,
            ),
            "",
            "   handler time per invocation, median (ms; - = not invoked for that model)",
            by_model(models, "handlers", lat["summary"], lambda s: s["handlersTotalMs"]["median"]),
            "",
            "   task state duration in the execution history, median (ms)",
            by_model(models, "states", lat["summary"], None),
        ]
        if "artifacts" in lat:
            a = lat["artifacts"]
            out += [
                "",
                f"   release copy: {a['builds']} CodeBuild builds of {a['imagesPerBuild']} multi-arch images, "
                f"{a['bytesPerBuild']} bytes each (tiny images: per-image overhead, not bandwidth)",
                table(
                    [
                        "model",
                        "build median ms",
                        "build p95 ms",
                        "state median ms",
                        "state-build median ms",
                        "ms/image",
                        "images/s",
                        "KiB/s",
                    ],
                    [
                        [
                            "remote",
                            a["buildMs"]["median"],
                            a["buildMs"]["p95"],
                            a["stateMs"]["median"],
                            a["callbackPathMs"]["median"],
                            a["msPerImage"],
                            a["imagesPerSecond"],
                            a["kibPerSecond"],
                        ]
                    ],
                ),
                "   one image's steps run alone, median ms: "
                + ", ".join(f"skopeo {step} {ms}" for step, ms in a["skopeoMs"].items()),
            ]
        if lat["failures"]:
            out.append("FAILED: " + "; ".join(lat["failures"]))
            for detail in lat.get("failureDetails", []):
                tasks = [f"{t['state']} {t['event']} {t['error']}: {t['cause']}"[:400] for t in detail["failedTasks"]]
                out.append(f"  {detail['model']} {detail['tenantId']}: {detail['tenant']}; " + " | ".join(tasks))
    if "burst" in report:
        b = report["burst"]
        out += [
            "",
            f"2. burst of {b['size']} signups put at once ({', '.join(f'{k} {v}' for k, v in b['tiers'].items())})",
            table(
                [
                    "wall s",
                    "ACTIVE",
                    "tenants/s",
                    "ms/tenant",
                    "handler share",
                    "GC s",
                    "ASL retries",
                    "lost",
                    "duplicated",
                ],
                [
                    [
                        b["wallSeconds"],
                        b["active"],
                        b["tenantsPerSecond"],
                        b["msPerTenant"],
                        f"{b['handlerShareOfWall']:.0%}",
                        b["gcSeconds"],
                        len(b["executionsWithAslRetries"]),
                        b["lostCommits"],
                        b["duplicatedCommits"],
                    ]
                ],
            ),
        ]
        if b["notActive"]:
            out.append(f"NOT ACTIVE: {b['notActive']}")
    if "imports" in report:
        imp = report["imports"]
        rows = [["boto3 (reference)", imp["boto3"]["medianMs"], "1.00"]]
        rows += [[name, f["medianMs"], f"{f['ratioToBoto3']:.2f}"] for name, f in imp["functions"].items()]
        out += [
            "",
            f"3. cold import in a fresh interpreter, median of {imp['repeats']} (ms)",
            table(["module", "median ms", "x boto3"], rows),
        ]
    return "\n".join(out)


def problems(report: dict[str, Any]) -> list[str]:
    found: list[str] = []
    if "latency" in report and report["latency"]["failures"]:
        found.append(f"{len(report['latency']['failures'])} latency onboardings or release copies did not succeed")
    if "burst" in report:
        b = report["burst"]
        if b["lostCommits"]:
            found.append(f"burst lost {b['lostCommits']} tenant commits: {b['lostTenants']}")
        if b["duplicatedCommits"]:
            found.append(f"burst duplicated {b['duplicatedCommits']} commits: {b['duplicatedTenants']}")
        if b["notActive"]:
            found.append(f"burst left {len(b['notActive'])} tenants not ACTIVE")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20, help="latency samples, pooled and siloed each (default 20)")
    parser.add_argument("--n-remote", type=int, default=10, help="latency samples of remote tenants (default 10)")
    parser.add_argument("--n-hybrid", type=int, default=10, help="latency samples of hybrid tenants (default 10)")
    parser.add_argument("--burst", type=int, default=100, help="signups put at once in the burst (default 100)")
    parser.add_argument("--repeats", type=int, default=5, help="fresh interpreters per import (default 5)")
    parser.add_argument("--timeout", type=float, default=300.0, help="deadline in seconds for each wait")
    parser.add_argument(
        "--only", choices=("latency", "burst", "imports"), action="append", help="run only these (repeatable)"
    )
    parser.add_argument("--out", type=Path, help="JSON result file (default .bench/bench-<UTC time>.json)")
    args = parser.parse_args(argv)
    sections = set(args.only or ("latency", "burst", "imports"))
    counts = {"pooled": args.n, "siloed": args.n, "remote": args.n_remote, "hybrid": args.n_hybrid}
    counts = {model: n for model, n in counts.items() if n > 0}
    if "latency" in sections and not counts:
        parser.error("latency needs at least one of --n, --n-remote, --n-hybrid above 0")
    if args.n_hybrid + 1 > 256 - HYBRID_FIRST_OCTET:
        parser.error(f"--n-hybrid is at most {255 - HYBRID_FIRST_OCTET} (one private /16 per hybrid tenant)")

    BENCH_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report: dict[str, Any] = {
        "startedAt": stamp,
        "machine": machine(),
        "loadAverageAtStart": list(os.getloadavg()),
        "revision": revision(),
        "parameters": {"n": counts, "burst": args.burst, "repeats": args.repeats, "timeout": args.timeout},
    }
    if "imports" in sections:
        print("imports ...", file=sys.stderr, flush=True)
        report["imports"] = measure_imports(args.repeats, args.timeout)
    if sections & {"latency", "burst"}:
        from onboarding_local.stack import LocalStack

        # Powertools prints EMF blobs and warnings from the in-process handlers: keep them off the report.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        run_id = uuid.uuid4().hex[:6]
        with (
            tempfile.TemporaryDirectory(prefix="stack-", dir=BENCH_DIR) as workdir,
            (Path(workdir) / "stdout.log").open("w", encoding="utf-8") as handler_stdout,
            contextlib.redirect_stdout(handler_stdout),
            GcMeter() as gc_meter,
        ):
            started = time.perf_counter()
            with LocalStack(Path(workdir)) as stack:
                report["stackStartSeconds"] = round(time.perf_counter() - started, 2)
                if "latency" in sections:
                    print("latency ...", file=sys.stderr, flush=True)
                    report["latency"] = measure_latency(stack, run_id, counts, args.timeout, gc_meter)
                if "burst" in sections:
                    print("burst ...", file=sys.stderr, flush=True)
                    report["burst"] = measure_burst(stack, run_id, args.burst, args.timeout, gc_meter)

    report["loadAverageAtEnd"] = list(os.getloadavg())
    out = args.out or BENCH_DIR / f"bench-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(render(report))
    print(f"\nresults: {out}")
    found = problems(report)
    for problem in found:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
