"""Benchmarks of the onboarding pipeline on the embedded local stack, and of the functions' cold imports.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/run.py --help``). Three measurements:

1. latency: one signup at a time, pooled (tier basic) and siloed (tier premium) interleaved; for each,
   the execution's own duration and the wall clock from PutEvents until the stack is idle;
2. burst: distinct signups of mixed tiers put at once; tenants ACTIVE per second of wall time, and the
   GitOps integrity checks (no ACTIVE tenant without its commit and file, no tenant committed twice);
3. imports: each function's ``app.py`` loaded from its path in a fresh interpreter, against ``import boto3``.

A table is printed and every sample is written as JSON under ``.bench/`` (gitignored). The exit status is
non-zero when an onboarding did not succeed, or the burst lost or duplicated a commit or left a tenant not
ACTIVE. There are no timing thresholds.
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
TIER_MODEL = {"basic": "pooled", "premium": "siloed", "advanced": "siloed"}
PIPELINE_STATES = ("RegisterTenant", "CommitGitOps", "ActivateTenant")
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
def signup(run_id: str, label: str, index: int, tier: str) -> dict[str, Any]:
    """An EventBridge envelope like events/signup-*.json, unique by signupId and by tenant name."""
    return {
        "source": SIGNUP_SOURCE,
        "detail-type": SIGNUP_DETAIL_TYPE,
        "detail": {
            "signupId": f"bench-{run_id}-{label}-{index:04d}",
            "tenantName": f"Bench {run_id} {label} {index:04d}",
            "adminEmail": f"admin-{label}-{index:04d}@bench.example",
            "tier": tier,
        },
    }


def execution_arn(stack: Any, name: str) -> str:
    machine_arn: str = stack.template.ref("OnboardingStateMachine")
    return machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


def measure_latency(stack: Any, run_id: str, n: int, timeout: float, gc_meter: GcMeter) -> dict[str, Any]:
    """One signup at a time, pooled and siloed interleaved, after one unmeasured warm-up of each.

    The order alternates ABBA (pooled first in even pairs, siloed first in odd ones): the process's full
    garbage collections come about every second signup, and a fixed order would hand them all to one model.
    """
    from onboarding.identity import derive_tenant_id
    from onboarding_local.stack import describe_execution

    sfn = stack.client("stepfunctions")
    samples: dict[str, list[dict[str, Any]]] = {"pooled": [], "siloed": []}
    failures: list[str] = []
    for index in range(-1, n):
        for tier in ("basic", "premium") if index % 2 == 0 else ("premium", "basic"):
            model = TIER_MODEL[tier]
            envelope = signup(run_id, model, index + 1, tier)
            first_invocation = len(stack.runtime.invocations)
            gc_before = gc_meter.ms()
            started = time.perf_counter()
            stack.put_events([envelope])
            stack.wait_idle(timeout=timeout)
            wall_ms = (time.perf_counter() - started) * 1000
            gc_ms = gc_meter.ms() - gc_before
            tenant_id = derive_tenant_id(envelope["detail"]["signupId"])
            execution = describe_execution(sfn, execution_arn(stack, tenant_id))
            if execution["status"] != "SUCCEEDED":
                failures.append(f"{tenant_id}: {execution['status']} {execution['error']}: {execution['cause']}")
                continue
            if index < 0:
                continue  # warm-up: first clients, first git clone
            handlers = stack.runtime.invocations[first_invocation:]
            samples[model].append(
                {
                    "tenantId": tenant_id,
                    "wallMs": round(wall_ms, 1),
                    "gcMs": round(gc_ms, 1),
                    "executionMs": execution["durationMs"],
                    "states": {s["name"]: s["durationMs"] for s in execution["states"]},
                    "aslRetries": sum(max(0, s.get("attempts", 0) - 1) for s in execution["states"]),
                    "handlersMs": {i.function: round(i.duration_ms, 1) for i in handlers},
                }
            )
    result: dict[str, Any] = {"n": n, "failures": failures, "samples": samples, "summary": {}}
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
                name: round(statistics.median(r["states"].get(name, 0.0) for r in rows), 1) for name in PIPELINE_STATES
            },
            "handlers": {
                name: round(statistics.median(r["handlersMs"].get(name, 0.0) for r in rows), 1)
                for name in rows[0]["handlersMs"]  # invocation order
            },
        }
    return result


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


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    out = [
        f"machine: {m['nproc']} CPUs, {m['cpu_model']}, {m['ram_gib']} GiB RAM, Python {m['python']}",
        f"revision: {report['revision']['commit'][:12]}{' (dirty)' if report['revision']['dirty'] else ''}",
    ]
    if "latency" in report:
        lat = report["latency"]
        handler_names = list(dict.fromkeys(h for s in lat["summary"].values() for h in s["handlers"]))
        rows = []
        steps = []
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
            steps.append([model, *(s["handlers"].get(h, "-") for h in handler_names), s["handlersTotalMs"]["median"]])
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
            "   handler time per invocation, median (ms)",
            table(["model", *(h.removesuffix("Function") for h in handler_names), "sum"], steps),
        ]
        if lat["failures"]:
            out.append("FAILED: " + "; ".join(lat["failures"]))
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
        found.append(f"{len(report['latency']['failures'])} latency onboardings did not succeed")
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
    parser.add_argument("--n", type=int, default=20, help="latency samples per deployment model (default 20)")
    parser.add_argument("--burst", type=int, default=100, help="signups put at once in the burst (default 100)")
    parser.add_argument("--repeats", type=int, default=5, help="fresh interpreters per import (default 5)")
    parser.add_argument("--timeout", type=float, default=300.0, help="deadline in seconds for each wait")
    parser.add_argument(
        "--only", choices=("latency", "burst", "imports"), action="append", help="run only these (repeatable)"
    )
    parser.add_argument("--out", type=Path, help="JSON result file (default .bench/bench-<UTC time>.json)")
    args = parser.parse_args(argv)
    sections = set(args.only or ("latency", "burst", "imports"))

    BENCH_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report: dict[str, Any] = {
        "startedAt": stamp,
        "machine": machine(),
        "revision": revision(),
        "parameters": {"n": args.n, "burst": args.burst, "repeats": args.repeats, "timeout": args.timeout},
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
                    report["latency"] = measure_latency(stack, run_id, args.n, args.timeout, gc_meter)
                if "burst" in sections:
                    print("burst ...", file=sys.stderr, flush=True)
                    report["burst"] = measure_burst(stack, run_id, args.burst, args.timeout, gc_meter)

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
