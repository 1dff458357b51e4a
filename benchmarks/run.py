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
3. imports: each function's ``app.py`` loaded from its path in a fresh interpreter, against ``import boto3``, with
   tracing off and on;
4. chaos: 200 signups of all models and lifecycle operations while 10 % of the handlers' calls fail, then a
   re-drive (benchmarks/chaos.py; alone: ``python -m benchmarks.run chaos``);
5. release: a fleet release to 1,000 seeded tenants in two waves: wall time, git pushes per wave, and the
   Flux emulator's own render cost (benchmarks/release.py; alone: ``python -m benchmarks.run release``);
6. gitops, cidr, costs: the GitOps write cost by fleet size and K concurrent writers, a CIDR claim with 10
   and 10,000 tenants registered, and the cost model (calls, invocations, transitions, list prices).

A table is printed and every sample is written as JSON under ``.bench/`` (gitignored). The exit status is
non-zero when an onboarding or a release copy did not succeed, or the burst lost or duplicated a commit or
left a tenant not ACTIVE. There are no timing thresholds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script (make bench): the benchmarks package is in the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import BENCH_DIR
from benchmarks.burst import measure_burst
from benchmarks.chaos import chaos_problems, measure_chaos, render_chaos
from benchmarks.coldimports import count_imports, measure_imports
from benchmarks.gitops import gitops_problems, render_gitops
from benchmarks.latency import measure_latency
from benchmarks.machine import machine, revision
from benchmarks.properties import measure_properties, property_problems, render_properties
from benchmarks.release import measure_release, release_problems, render_release
from benchmarks.report import problems, render
from benchmarks.signups import HYBRID_FIRST_OCTET
from benchmarks.stats import GcMeter

SECTIONS = ("latency", "burst", "imports", "properties", "gitops", "chaos", "release", "batching")


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, dict[str, int]]:
    """The options, and the latency samples wanted per deployment model."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20, help="latency samples, pooled and siloed each (default 20)")
    parser.add_argument("--n-remote", type=int, default=10, help="latency samples of remote tenants (default 10)")
    parser.add_argument("--n-hybrid", type=int, default=10, help="latency samples of hybrid tenants (default 10)")
    parser.add_argument("--burst", type=int, default=100, help="signups put at once in the burst (default 100)")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="handler worker processes of the latency, burst and batching-burst stacks (default 2)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="fresh interpreters per import (default 5)")
    parser.add_argument("--timeout", type=float, default=300.0, help="deadline in seconds for each wait")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these (repeatable)")
    parser.add_argument("sections", nargs="*", metavar="SECTION", help=f"run only these (as --only): {SECTIONS}")
    parser.add_argument("--chaos-signups", type=int, default=200, help="signups of the chaos burst (default 200)")
    parser.add_argument("--chaos-rate", type=float, default=0.1, help="share of handler calls that fail (0.1)")
    parser.add_argument("--chaos-seed", type=int, default=15, help="seed of the chaos (default 15)")
    parser.add_argument("--batching-burst", type=int, default=1000, help="signups of the batching burst (1000)")
    parser.add_argument("--release-tenants", type=int, default=1000, help="tenants of the fleet release (1000)")
    parser.add_argument("--out", type=Path, help="JSON result file (default .bench/bench-<UTC time>.json)")
    args = parser.parse_args(argv)
    if unknown := set(args.sections) - set(SECTIONS):
        parser.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    args.only = (args.only or []) + list(args.sections) or None
    counts = {"pooled": args.n, "siloed": args.n, "remote": args.n_remote, "hybrid": args.n_hybrid}
    counts = {model: n for model, n in counts.items() if n > 0}
    if "latency" in (args.only or SECTIONS) and not counts:
        parser.error("latency needs at least one of --n, --n-remote, --n-hybrid above 0")
    if args.n_hybrid + 1 > 256 - HYBRID_FIRST_OCTET:
        parser.error(f"--n-hybrid is at most {255 - HYBRID_FIRST_OCTET} (one private /16 per hybrid tenant)")
    return args, counts


def run_on_stack(report: dict[str, Any], sections: set[str], counts: dict[str, int], args: argparse.Namespace) -> None:
    """Latency and burst, on one local stack in a temporary work dir under .bench/."""
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
        with LocalStack(Path(workdir), workers=args.workers) as stack:
            report["stackStartSeconds"] = round(time.perf_counter() - started, 2)
            if "latency" in sections:
                print("latency ...", file=sys.stderr, flush=True)
                report["latency"] = measure_latency(stack, run_id, counts, args.timeout, gc_meter)
            if "burst" in sections:
                print("burst ...", file=sys.stderr, flush=True)
                report["burst"] = measure_burst(stack, run_id, args.burst, args.timeout, gc_meter)


def run_release(args: argparse.Namespace) -> dict[str, Any]:
    """The fleet release, on a local stack of its own (its seeded fleet would skew the other sections)."""
    from onboarding_local.stack import LocalStack

    parameters = {"ReleasePollSeconds": "2", "ReconcileTimeoutSeconds": str(int(args.timeout * 12))}
    with (
        tempfile.TemporaryDirectory(prefix="release-", dir=BENCH_DIR) as workdir,
        (Path(workdir) / "stdout.log").open("w", encoding="utf-8") as handler_stdout,
        contextlib.redirect_stdout(handler_stdout),
        LocalStack(Path(workdir) / "stack", parameters=parameters) as stack,
    ):
        return measure_release(stack, args.release_tenants, args.timeout * 12)


def main(argv: list[str] | None = None) -> int:
    args, counts = parse_args(argv)
    sections = set(args.only or SECTIONS)
    BENCH_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report: dict[str, Any] = {
        "startedAt": stamp,
        "machine": machine(),
        "loadAverageAtStart": list(os.getloadavg()),
        "revision": revision(),
        "parameters": {
            "n": counts,
            "burst": args.burst,
            "workers": args.workers,
            "repeats": args.repeats,
            "timeout": args.timeout,
        },
    }
    if "imports" in sections:
        print("imports ...", file=sys.stderr, flush=True)
        report["imports"] = measure_imports(args.repeats, args.timeout)
        # with Lambda's own variables as well: the Tracer on, as the template's `Tracing: Active` has it on AWS
        report["importsTraced"] = measure_imports(args.repeats, args.timeout, in_lambda=True)
        # and counted: instructions, which the machine's load does not move (needs valgrind; make bench has it)
        report["importsInstructions"] = count_imports(in_lambda=True)
    if sections & {"latency", "burst"}:
        run_on_stack(report, sections, counts, args)
    if "properties" in sections:
        print("properties ...", file=sys.stderr, flush=True)
        report["properties"] = measure_properties()
    if "gitops" in sections:  # GitOps write cost by fleet size, and K concurrent writers (benchmarks/gitops.py)
        from benchmarks import gitops

        gitops.measure(report, {"write", "writers"}, samples=30, writers=gitops.WRITERS)
    if "chaos" in sections:  # faults at 10 % of the handlers' calls, then a re-drive (benchmarks/chaos.py)
        print("chaos ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="chaos-", dir=BENCH_DIR) as workdir:
            report["chaos"] = measure_chaos(
                Path(workdir), args.chaos_signups, args.chaos_rate, args.chaos_seed, args.timeout * 4
            )

    if "cidr" in sections:  # a hybrid CIDR claim with 10 and 10,000 tenants registered (benchmarks/cidr_registry.py)
        from benchmarks.cidr_registry import measure_cidr_registry

        print("cidr ...", file=sys.stderr, flush=True)
        report["cidr"] = measure_cidr_registry()
    if "costs" in sections:  # calls, invocations, transitions and list prices per onboarding (benchmarks/costs.py)
        from benchmarks.costs import measure_costs

        print("costs ...", file=sys.stderr, flush=True)
        report["costs"] = measure_costs(timeout=args.timeout)
    if "release" in sections:  # a fleet release to --release-tenants seeded tenants (benchmarks/release.py)
        print("release ...", file=sys.stderr, flush=True)
        report["release"] = run_release(args)

    if "batching" in sections:  # batched GitOps writes: K writers and a burst (benchmarks/batching.py)
        from benchmarks.batching import WRITERS, measure_batching

        report["batching"] = measure_batching(
            WRITERS, args.batching_burst, args.timeout * 8, modes=("batched",), workers=args.workers
        )

    report["loadAverageAtEnd"] = list(os.getloadavg())
    out = args.out or BENCH_DIR / f"bench-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(render(report) + render_properties(report) + "\n".join(render_gitops(report)) + render_chaos(report)
          + render_release(report))  # fmt: skip
    print(f"\nresults: {out}")
    found = problems(report) + property_problems(report) + gitops_problems(report) + chaos_problems(report)
    found += release_problems(report)
    if "batching" in report:
        from benchmarks.batching import batching_problems, render_batching

        print("\n".join(render_batching(report["batching"])))
        found += batching_problems(report["batching"])
    for problem in found:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
