"""Batched GitOps writes under bursts (issue 13, item 3): pushes per tenant, and what fails.

Two measurements, runnable alone (``.venv/bin/python benchmarks/batching.py --help``) or as the ``batching``
section of run.py (``benchmarks/run.py --only batching``: batched writers only, the direct ones are its gitops
section):

1. writers: K concurrent writers in threads, each writing one tenant's file to a real ``git daemon`` on
   loopback, first each on its own (``apply_files``: fetch, commit, push, 8 attempts with jitter, what
   CommitGitOps did before), then through the batching writer (group commit through the GitOps queue
   table, here on moto in-process, with the template's gather window). Reported: pushes, push attempts,
   pushes per tenant, writers that failed, wall time. This is the contention a burst creates on AWS,
   where the handlers run in parallel sandboxes;
2. stack: a burst of signups put at once on the local stack (``burst.measure_burst``): tenants ACTIVE,
   tenants/s and pushes per tenant, with the template's gather window.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the benchmarks package is in the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import BENCH_DIR, REPO_ROOT
from benchmarks.machine import machine, revision

WRITERS = [10, 100, 1000]  # K concurrent writers, as issue 13 asks


class CountingRepo:
    """A GitOpsRepository that counts push attempts (commit calls) across threads."""

    def __init__(self, inner: Any, counter: list[int], lock: threading.Lock) -> None:
        self._inner, self._counter, self._lock = inner, counter, lock

    def snapshot(self, paths: Any) -> Any:
        return self._inner.snapshot(paths)

    def commit(self, base: str | None, changes: Mapping[str, bytes | None], message: str) -> str:
        with self._lock:
            self._counter[0] += 1
        return str(self._inner.commit(base, changes, message))


@contextmanager
def gitops_queue() -> Iterator[Any]:
    """The GitOps queue table of template.yaml, on moto in this process."""
    import os

    import boto3
    from moto import mock_aws

    from onboarding.adapters.dynamodb.gitops_queue import DynamoGitOpsQueue
    from onboarding_local.template import Template

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "bench")
    template = Template(REPO_ROOT / "template.yaml", parameters={"GitOpsRepoUrl": "git://x/y.git"})
    props = template.resolve(template.resources["GitOpsQueueTable"]["Properties"])
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="GitOpsQueueTable",
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
            GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
        )
        yield DynamoGitOpsQueue("GitOpsQueueTable", client)


def template_default(parameter: str) -> str:
    from onboarding_local.template import Template

    template = Template(REPO_ROOT / "template.yaml", parameters={"GitOpsRepoUrl": "git://x/y.git"})
    return str(template.doc["Parameters"][parameter]["Default"])


def run_writers(k: int, mode: str, timeout: float) -> dict[str, Any]:
    """K threads, each writing its own tenant's file at once, ``direct`` or ``batched``."""
    from onboarding.adapters.git import DulwichGitOpsRepository
    from onboarding.batch_queue import ticket
    from onboarding.batching import BatchPolicy, GroupCommitWriter
    from onboarding.gitops import apply_files
    from onboarding_local.gitserver import GitServer

    BENCH_DIR.mkdir(exist_ok=True)
    attempts, lock = [0], threading.Lock()
    failures: dict[str, int] = {}
    done: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="writers-", dir=BENCH_DIR) as workdir, gitops_queue() as queue:
        server = GitServer(Path(workdir)).start()
        try:
            before = int(server.git("rev-list", "--count", "main").strip())
            policy = BatchPolicy(
                gather_seconds=int(template_default("GitOpsGatherMilliseconds")) / 1000, poll_seconds=0.1
            )
            start = threading.Barrier(k)

            def one(i: int) -> None:
                repo = CountingRepo(DulwichGitOpsRepository(server.url, "main"), attempts, lock)
                tenant, path = f"t-{i:04d}", f"tenants/t-{i:04d}.yaml"
                desired = {path: f"tenant: {i}\n".encode()}
                write: Callable[[], Any]
                if mode == "direct":
                    write = lambda: apply_files(repo, desired, f"Onboard tenant {tenant}\n")  # noqa: E731
                else:
                    writer = GroupCommitWriter(queue, repo, policy, deadline=time.time() + timeout)
                    write = lambda: writer.write(ticket(tenant, "bench"), tenant, desired, f"Onboard tenant {tenant}\n")  # noqa: E731
                start.wait()
                try:
                    done[tenant] = write().commit
                except Exception as exc:  # noqa: BLE001 - counted by class, as the state machine would route it
                    with lock:
                        failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1

            threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(k)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout)
            wall = time.perf_counter() - started
            pushes = int(server.git("rev-list", "--count", "main").strip()) - before
            files = {f for f in server.files() if f.startswith("tenants/t-")}
        finally:
            server.stop()
    return {
        "writers": k,
        "mode": mode,
        "succeeded": len(done),
        "failed": sum(failures.values()),
        "failures": failures,
        "pushes": pushes,
        "pushAttempts": attempts[0],
        "pushesPerTenant": round(pushes / k, 3),
        "filesOnBranch": len(files),
        "wallSeconds": round(wall, 2),
    }


def run_stack_burst(
    size: int, timeout: float, parameters: dict[str, str] | None = None, workers: int = 0
) -> dict[str, Any]:
    """A burst of ``size`` signups on the local stack, with the template's gather window (and ``parameters``),
    its handlers in ``workers`` forked worker processes (0: in the stack's process)."""
    import contextlib
    import warnings

    from benchmarks.burst import measure_burst
    from benchmarks.stats import GcMeter
    from onboarding_local.stack import LocalStack

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    BENCH_DIR.mkdir(exist_ok=True)
    # the template's window, as on AWS (not the local stack's shorter default)
    template_window = {"GitOpsGatherMilliseconds": template_default("GitOpsGatherMilliseconds")}
    with (
        tempfile.TemporaryDirectory(prefix="stack-", dir=BENCH_DIR) as workdir,
        (Path(workdir) / "stdout.log").open("w", encoding="utf-8") as handler_stdout,
        contextlib.redirect_stdout(handler_stdout),
        GcMeter() as gc_meter,
        LocalStack(
            Path(workdir) / "stack", parameters={**template_window, **(parameters or {})}, workers=workers
        ) as stack,
    ):
        result = measure_burst(stack, uuid.uuid4().hex[:6], size, timeout, gc_meter)
    result["gatherMilliseconds"] = int(stack.parameters["GitOpsGatherMilliseconds"])
    result["stackParameters"] = dict(parameters or {})
    result["workers"] = workers
    return result


def measure_batching(
    writers: list[int],
    burst: int,
    timeout: float,
    modes: tuple[str, ...] = ("direct", "batched"),
    parameters: dict[str, str] | None = None,
    workers: int = 0,
) -> dict[str, Any]:
    report: dict[str, Any] = {"writers": []}
    for k in writers:
        for mode in modes:
            print(f"batching: {k} {mode} writers ...", file=sys.stderr, flush=True)
            report["writers"].append(run_writers(k, mode, timeout))
    if burst > 0:
        print(f"batching: burst of {burst} on the local stack ...", file=sys.stderr, flush=True)
        report["stack"] = run_stack_burst(burst, timeout, parameters, workers)
    return report


def render_batching(b: dict[str, Any]) -> list[str]:
    from benchmarks.report import table

    headers = ["writers", "mode", "ok", "failed", "pushes", "attempts", "pushes/tenant", "wall s"]
    rows = [
        [
            w["writers"],
            w["mode"],
            w["succeeded"],
            w["failed"],
            w["pushes"],
            w["pushAttempts"],
            w["pushesPerTenant"],
            w["wallSeconds"],
        ]
        for w in b["writers"]
    ]
    out = ["", "5. concurrent GitOps writers against git daemon (each its own file)", table(headers, rows)]
    if "stack" in b:
        s = b["stack"]
        out += [
            "",
            f"   burst of {s['size']} on the local stack, gather {s['gatherMilliseconds']} ms, {s['stackParameters']},"
            f" {s.get('workers', 0)} handler worker processes",
            table(
                ["ACTIVE", "wall s", "tenants/s", "pushes", "pushes/tenant", "lost", "duplicated"],
                [
                    [
                        s["active"],
                        s["wallSeconds"],
                        s["tenantsPerSecond"],
                        s["gitopsPushes"],
                        s["pushesPerTenant"],
                        s["lostCommits"],
                        s["duplicatedCommits"],
                    ]
                ],
            ),
        ]
    return out


def batching_problems(b: dict[str, Any]) -> list[str]:
    found = [
        f"{w['writers']} batched writers: {w['failed']} failed, {w['filesOnBranch']} files on the branch"
        for w in b["writers"]
        if w["mode"] == "batched" and (w["failed"] or w["filesOnBranch"] != w["writers"])
    ]
    s = b.get("stack")
    if s and (s["notActive"] or s["lostCommits"] or s["duplicatedCommits"]):
        found.append(
            f"burst: {len(s['notActive'])} not ACTIVE, {s['lostCommits']} lost, {s['duplicatedCommits']} duplicated"
        )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", default=",".join(map(str, WRITERS)), help="K values, comma-separated")
    parser.add_argument("--modes", default="direct,batched", help="writers each alone (direct), batched, or both")
    parser.add_argument("--burst", type=int, default=1000, help="signups in the local stack burst; 0 skips it")
    parser.add_argument(
        "--reconcile-feedback",
        choices=("flux", "none"),
        default="flux",
        help="the stack's ReconcileFeedback: none makes a tenant ACTIVE when its commit lands (no Flux emulator wait)",
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="handler worker processes of the burst's stack (default 0: in-process)"
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="deadline in seconds for each wait")
    parser.add_argument("--out", type=Path, help="JSON result file (default .bench/batching-<UTC time>.json)")
    args = parser.parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report: dict[str, Any] = {
        "startedAt": stamp,
        "machine": machine(),
        "revision": revision(),
        "batching": measure_batching(
            [int(k) for k in args.writers.split(",") if k],
            args.burst,
            args.timeout,
            tuple(args.modes.split(",")),
            {"ReconcileFeedback": args.reconcile_feedback},
            args.workers,
        ),
    }
    out = args.out or BENCH_DIR / f"batching-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print("\n".join(render_batching(report["batching"])))
    print(f"\nresults: {out}")
    found = batching_problems(report["batching"])
    for problem in found:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
