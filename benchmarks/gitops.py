"""GitOps writes against a real ``git daemon`` on loopback (the adapter directly, no local stack).

1. write cost: one CommitGitOps-shaped write (snapshot, commit, push of one new tenant's files, through
   ``apply_files``) with 10 and with 10,000 tenant files already in the repository, in the flat layout
   (tenants/<id>.yaml) and the sharded one (``GitOpsLayout.tenant_shards``: tenants/<xx>/<id>.yaml); the
   repositories are written in turn, so machine load drifts alike on all. Before each write another writer
   pushes a tenant, so the branch has always moved. Two modes: *cold* (a new container: no kept base, the
   full depth-1 ``blob:none`` fetch) and *warm* (the adapter's BaseCache kept from the previous write: the
   fetch names it as a have and brings what changed). Medians, p95 and the ratios 10,000/10 in the same run;
   the snapshot and commit+push phases; server and client CPU per write; and, for reference, a cold write
   when the server offers no object filter (the whole tree, blobs too). ``--sharded-read tree2`` reads a
   sharded repository with the adapter's ``top_trees=2`` (filter ``tree:2``, then the shard by id) instead;
2. concurrent writers: K threads (or, with --processes, K forked processes), each one tenant's
   ``apply_files`` with the in-Lambda retry budget (MAX_PUSH_ATTEMPTS, full jitter), released at once;
   push attempts, pushes per tenant, how many gave up with GitOpsConflict, other failures, and whether
   every successful tenant's file is on the branch.

Runnable alone: ``.venv/bin/python benchmarks/gitops.py [--only write|writers] [--processes] [--fleets ...]
[--sharded-read blob|tree2] [--samples N] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the benchmarks package is in the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import BENCH_DIR
from benchmarks.stats import summary

# Tenant files already in the repository, and the layout: "-sharded" is tenants/<2 hex>/<id>.yaml (256 shards).
FLEETS = ("10", "10000", "10-sharded", "10000-sharded")
# How the adapter reads a sharded repository: "blob" fetches every tree (filter blob:none), "tree2" the trees one
# level deep (filter tree:2), then the shard on the path by id.
SHARDED_READ = "blob"
WRITERS = (10, 100, 1000)


def tenant_file(i: int) -> bytes:
    """A tenant file of the size the pipeline writes (a HelmRelease of about 600 bytes)."""
    name = f"t-tenant-{i:05d}-0123456789"
    return (
        f"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: {name}\n  namespace: pool\n"
        f"  labels:\n    app.kubernetes.io/managed-by: tenant-onboarding\n    tenant-id: {name}\nspec:\n"
        f"  interval: 10m\n  releaseName: {name}\n  targetNamespace: {name}\n  chart:\n    spec:\n"
        f"      chart: tenant\n      version: 1.0.0\n      sourceRef:\n        kind: HelmRepository\n"
        f"        name: tenant-charts\n        namespace: flux-system\n  values:\n    tenantId: {name}\n"
        f"    tier: basic\n    replicas: 1\n"
    ).encode()


def tenant_path(name: str, sharded: bool = False) -> str:
    """The flat layout, or the sharded one (``GitOpsLayout.tenant_shards``: 256 directories by a hash of the id)."""
    from onboarding.manifests import GitOpsLayout
    from onboarding.manifests import tenant_path as layout_path

    return layout_path(name, GitOpsLayout(tenant_shards=sharded))


def desired(tag: str, sharded: bool = False) -> dict[str, bytes | None]:
    """What CommitGitOps writes for a new pooled tenant: its file, and its remote path absent."""
    content = tenant_file(0).replace(b"t-tenant-00000", tag.encode())
    return {tenant_path(tag, sharded): content, f"remote/{tag}/x": None}


def adapter(server: Any, sharded: bool, cache: Any = None, sharded_read: str = SHARDED_READ) -> Any:
    """The adapter as CommitGitOps builds it, with ``cache`` None (a cold container: no kept base) or a
    ``BaseCache`` kept across writes (a warm one)."""
    from onboarding.adapters.git import DulwichGitOpsRepository

    top = 2 if sharded and sharded_read == "tree2" else None
    return DulwichGitOpsRepository(server.url, "main", top_trees=top, cache=cache)


def _server(workdir: Path, fleet: int, sharded: bool = False) -> Any:
    from onboarding_local.gitserver import GitServer

    server = GitServer(workdir).start()
    if fleet:
        names = (tenant_path(f"t-tenant-{i:05d}-0123456789", sharded) for i in range(fleet))
        server.commit_files({name: tenant_file(i) for i, name in enumerate(names)}, f"{fleet} tenants")
    server.git("gc", "-q")  # packed, as a hosted repository is
    return server


@contextlib.contextmanager
def quick_acks(enabled: bool = True) -> Any:
    """Acknowledge every TCP segment at once on the adapter's git:// sockets (Linux ``TCP_QUICKACK``).

    ``git daemon`` does not set TCP_NODELAY, so a response made of small writes (a pack of a few objects, as a
    write to a small repository or a warm write gets) stalls until the client's delayed ACK, 40 ms on Linux,
    while a big one streams: on loopback that constant 40 ms lands on the small cases only, and it is the
    test server's, not git's nor the adapter's (hosted services answer over HTTPS from servers that set
    TCP_NODELAY). Measured: a cold snapshot of 10 tenants 48 ms without, 7-18 ms with; of 10,000, 16-22 ms."""
    import socket

    import dulwich.client

    if not enabled or not hasattr(socket, "TCP_QUICKACK"):
        yield
        return

    class QuickAck(socket.socket):
        def recv_into(self, *args: Any, **kwargs: Any) -> int:
            self.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)  # the kernel clears it: set on each read
            return super().recv_into(*args, **kwargs)

    real = dulwich.client.socket  # type: ignore[attr-defined]
    patched = type(sys)("socket")
    patched.__dict__.update(real.__dict__)
    patched.socket = QuickAck  # type: ignore[attr-defined]
    dulwich.client.socket = patched  # type: ignore[attr-defined]
    try:
        yield
    finally:
        dulwich.client.socket = real  # type: ignore[attr-defined]


class PhaseTimer:
    """The adapter, timing its snapshot and its commit (+ push) calls, as apply_files makes them."""

    def __init__(self, inner: Any) -> None:
        self._inner, self.snapshot_ms, self.commit_ms = inner, 0.0, 0.0

    def snapshot(self, paths: Sequence[str]) -> Any:
        t0 = time.perf_counter()
        try:
            return self._inner.snapshot(paths)
        finally:
            self.snapshot_ms += (time.perf_counter() - t0) * 1000

    def commit(self, base: str | None, changes: Any, message: str) -> str:
        t0 = time.perf_counter()
        try:
            return str(self._inner.commit(base, changes, message))
        finally:
            self.commit_ms += (time.perf_counter() - t0) * 1000


MODES = ("cold", "warm")


def measure_write_cost(
    samples: int,
    fleets: Sequence[str] = FLEETS,
    whole_samples: int = 5,
    sharded_read: str = SHARDED_READ,
    quickack: bool = True,
) -> dict[str, Any]:
    with quick_acks(quickack):
        results = _measure_write_cost(samples, fleets, whole_samples, sharded_read)
    return {**results, "quickAck": quickack}


def _measure_write_cost(samples: int, fleets: Sequence[str], whole_samples: int, sharded_read: str) -> dict[str, Any]:
    """Per fleet and mode, ``samples`` CommitGitOps-shaped writes (apply_files of a new tenant). Before each,
    another writer pushes a tenant through its own cold adapter (as another execution would), so the branch
    has always moved: *cold* is a new container (no kept base: the full depth-1 fetch), *warm* a container that wrote
    before (its kept base is one commit behind: the fetch brings what changed since)."""
    from onboarding.adapters.gitbase import BaseCache
    from onboarding.gitops import apply_files

    results: dict[str, Any] = {"shardedRead": sharded_read}
    with tempfile.TemporaryDirectory(prefix="gitops-", dir=BENCH_DIR) as tmp:
        servers = {n: _server(Path(tmp) / n, int(n.split("-")[0]), n.endswith("-sharded")) for n in fleets}
        caches = {n: BaseCache() for n in fleets}
        try:
            timings: dict[tuple[str, str], dict[str, list[float]]] = {
                (n, m): {"write": [], "snapshot": [], "commit": []} for n in fleets for m in MODES
            }
            for k in range(samples + 1):  # the first round warms imports, connections and caches, and is dropped
                for n, server in servers.items():
                    sharded = n.endswith("-sharded")
                    for mode in MODES:
                        other = f"t-other-{mode}-{k:04d}"
                        apply_files(adapter(server, sharded, None, sharded_read), desired(other, sharded), other)
                        cache = caches[n] if mode == "warm" else None
                        repo = PhaseTimer(adapter(server, sharded, cache, sharded_read))
                        tag = f"t-new-{mode}-{k:04d}"
                        t0 = time.perf_counter()
                        change = apply_files(repo, desired(tag, sharded), f"Onboard {tag}")
                        t1 = time.perf_counter()
                        assert change.changed
                        if k:
                            timings[(n, mode)]["write"].append((t1 - t0) * 1000)
                            timings[(n, mode)]["snapshot"].append(repo.snapshot_ms)
                            timings[(n, mode)]["commit"].append(repo.commit_ms)
            cpu = {
                (n, m): _cpu_per_write(server, samples, n.endswith("-sharded"), m, sharded_read)
                for n, server in servers.items()
                for m in MODES
            }
            whole: dict[str, list[float]] = {n: [] for n in fleets}
            for server in servers.values():
                server.git("config", "uploadpack.allowFilter", "false")
            for k in range(whole_samples):
                for n, server in servers.items():
                    repo = adapter(server, n.endswith("-sharded"), None, sharded_read)
                    t0 = time.perf_counter()
                    tag = f"t-whole-{k:04d}"
                    apply_files(repo, desired(tag, n.endswith("-sharded")), f"Onboard {tag}")
                    whole[n].append((time.perf_counter() - t0) * 1000)
            for server in servers.values():
                server.git("fsck", "--no-dangling")  # every write left a valid repository
        finally:
            for server in servers.values():
                server.stop()
    for n in fleets:
        results[n] = {"wholeFetchColdWriteMs": summary(whole[n])}
        for m in MODES:
            results[n][m] = {
                "writeMs": summary(timings[(n, m)]["write"]),
                "snapshotMs": summary(timings[(n, m)]["snapshot"]),
                "commitPushMs": summary(timings[(n, m)]["commit"]),
                **cpu[(n, m)],
            }

    def ratio(big: str, small: str, mode: str, key: str = "writeMs") -> float | None:
        if big not in results or small not in results:
            return None
        return round(results[big][mode][key]["median"] / results[small][mode][key]["median"], 2)

    results["ratios"] = {
        f"{layout}/{m}": ratio(f"10000{suffix}", f"10{suffix}", m)
        for layout, suffix in (("flat", ""), ("sharded", "-sharded"))
        for m in MODES
    }
    for layout, suffix in (("flat", ""), ("sharded", "-sharded")):
        big, small = f"10000{suffix}", f"10{suffix}"
        if big in results and small in results:
            results["ratios"][f"{layout}/wholeFetchCold"] = round(
                results[big]["wholeFetchColdWriteMs"]["median"] / results[small]["wholeFetchColdWriteMs"]["median"], 2
            )
    return results


def _cpu_per_write(server: Any, writes: int, sharded: bool, mode: str, sharded_read: str) -> dict[str, float]:
    """CPU time per write, less sensitive to a shared machine's load than wall time: this process's (the
    client), and the git daemon's children's (upload-pack, receive-pack, hooks), counted once the daemon is
    reaped. The daemon is restarted on the same port. The other writer's commits are made before the count."""
    import resource

    from onboarding.adapters.gitbase import BaseCache
    from onboarding.gitops import apply_files

    def children() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    cache = BaseCache() if mode == "warm" else None
    apply_files(adapter(server, sharded, cache, sharded_read), desired(f"t-cpu-{mode}-warmup", sharded), "warm up")
    apply_files(adapter(server, sharded, None, sharded_read), desired(f"t-cpu-other-{mode}", sharded), "other")
    server.restart()
    before, client = children(), 0.0
    for k in range(writes):
        repo = adapter(server, sharded, cache, sharded_read)
        t0 = time.process_time()
        apply_files(repo, desired(f"t-cpu-{mode}-{k:04d}", sharded), f"Onboard t-cpu-{mode}-{k:04d}")
        client += time.process_time() - t0
    server.stop()
    spent = children() - before
    server.start()
    return {
        "serverCpuMsPerWrite": round(spent / writes * 1000, 1),
        "clientCpuMsPerWrite": round(client / writes * 1000, 1),
    }


class CountingRepository:
    """The adapter, counting push attempts (commit calls) and the ones that found the branch moved."""

    def __init__(self, inner: Any, counts: dict[str, int], lock: threading.Lock) -> None:
        self._inner, self._counts, self._lock = inner, counts, lock

    def snapshot(self, paths: Sequence[str]) -> Any:
        return self._inner.snapshot(paths)

    def commit(self, base: str | None, changes: Any, message: str) -> str:
        from onboarding.errors import BranchMoved

        with self._lock:
            self._counts["pushAttempts"] += 1
        try:
            return str(self._inner.commit(base, changes, message))
        except BranchMoved:
            with self._lock:
                self._counts["branchMoved"] += 1
            raise


def _write_one(url: str, i: int, start: Any) -> dict[str, Any]:
    """One writer: one tenant's apply_files with the in-Lambda budget, after the start barrier."""
    from onboarding.adapters.git import DulwichGitOpsRepository
    from onboarding.errors import GitOpsConflict
    from onboarding.gitops import apply_files

    counts = {"pushAttempts": 0, "branchMoved": 0}
    # cache None: each writer stands for its own container, which shares no kept base with the others
    repo = CountingRepository(DulwichGitOpsRepository(url, "main", cache=None), counts, threading.Lock())
    start.wait()
    t0 = time.perf_counter()
    outcome, example = "ok", ""
    try:
        apply_files(repo, desired(f"t-writer-{i:04d}"), f"Onboard t-writer-{i:04d}")
    except GitOpsConflict:
        outcome = "GitOpsConflict"
    except Exception as exc:  # noqa: BLE001 - every other failure is counted by its type
        outcome, example = type(exc).__name__, str(exc)[:300]
    return {"i": i, "outcome": outcome, "example": example, "ms": (time.perf_counter() - t0) * 1000, **counts}


def _process_writer(url: str, i: int, start: Any, results: Any) -> None:
    results.put(_write_one(url, i, start))


def _run_writers(url: str, k: int, processes: bool, timeout: float) -> list[dict[str, Any]]:
    """K writers released together: threads of this process, or processes (fork), each its own interpreter."""
    results: list[dict[str, Any]] = []
    if processes:
        import multiprocessing
        import queue

        ctx = multiprocessing.get_context("fork")
        start: Any = ctx.Barrier(k + 1)
        inbox: Any = ctx.Queue()
        workers: list[Any] = [ctx.Process(target=_process_writer, args=(url, i, start, inbox)) for i in range(k)]
    else:
        start = threading.Barrier(k + 1)
        lock = threading.Lock()

        def run(i: int) -> None:
            result = _write_one(url, i, start)
            with lock:
                results.append(result)

        workers = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(k)]
    for w in workers:
        w.start()
    start.wait()
    deadline = time.perf_counter() + timeout
    if processes:
        with contextlib.suppress(queue.Empty):
            while len(results) < k:
                results.append(inbox.get(timeout=max(0.1, deadline - time.perf_counter())))
    for w in workers:
        w.join(max(0.0, deadline - time.perf_counter()))
    return results


def measure_writers(k: int, fleet: int = 10, timeout: float = 900.0, processes: bool = False) -> dict[str, Any]:
    from onboarding.gitops import MAX_PUSH_ATTEMPTS

    with tempfile.TemporaryDirectory(prefix="writers-", dir=BENCH_DIR) as tmp:
        server = _server(Path(tmp), fleet)
        try:
            began = time.perf_counter()
            results = _run_writers(server.url, k, processes, timeout)
            wall = time.perf_counter() - began
            on_branch = set(server.files())
            commits = len([s for s in server.log() if s.startswith("Onboard t-writer-")])
        finally:
            server.stop()
    ok = [r for r in results if r["outcome"] == "ok"]
    failures: dict[str, int] = {}
    examples: dict[str, str] = {}  # one message per failure type, to say what the failures were
    for r in results:
        if r["outcome"] != "ok":
            failures[r["outcome"]] = failures.get(r["outcome"], 0) + 1
            if r["example"]:
                examples.setdefault(r["outcome"], r["example"])
    attempts = sum(r["pushAttempts"] for r in results)
    missing = [r for r in ok if f"tenants/t-writer-{r['i']:04d}.yaml" not in on_branch]
    return {
        "writers": k,
        "mode": "processes" if processes else "threads",
        "retryBudget": MAX_PUSH_ATTEMPTS,
        "succeeded": len(ok),
        "gitOpsConflict": failures.pop("GitOpsConflict", 0),
        "otherFailures": failures,
        "failureExamples": examples,
        "unfinished": k - len(results),
        "pushAttempts": attempts,
        "branchMoved": sum(r["branchMoved"] for r in results),
        "pushesPerTenant": round(attempts / k, 2),
        "commitsLanded": commits,
        "lostFiles": len(missing),
        "wallSeconds": round(wall, 1),
        "successLatencyMs": summary([r["ms"] for r in ok]) if ok else None,
    }


def render_gitops(report: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if "gitopsWrite" in report:
        w = report["gitopsWrite"]
        out += [
            "",
            f"GitOps write cost (loopback git daemon; medians, p95 in ms; sharded read: {w.get('shardedRead')})",
        ]
        head = ("tenant files", "mode", "write", "p95", "snapshot", "commit+push", "server CPU", "client CPU")
        out.append("{:>14} {:>5} {:>8} {:>8} {:>9} {:>12} {:>11} {:>11}".format(*head))
        for n in (k for k in w if k[0].isdigit()):
            for m in MODES:
                s = w[n][m]
                out.append(
                    f"{n:>14} {m:>5} {s['writeMs']['median']:>8} {s['writeMs']['p95']:>8} "
                    f"{s['snapshotMs']['median']:>9} {s['commitPushMs']['median']:>12} "
                    f"{s['serverCpuMsPerWrite']:>11} {s['clientCpuMsPerWrite']:>11}"
                )
            out.append(f"{n:>14} whole fetch, cold (server without filters): {w[n]['wholeFetchColdWriteMs']['median']}")
        out.append("ratios 10,000/10: " + ", ".join(f"{k} {v}" for k, v in w["ratios"].items()))
    if "gitopsWriters" in report:
        modes = sorted({r.get("mode", "threads") for r in report["gitopsWriters"]})
        out += ["", f"K concurrent writers, one tenant each, in-Lambda retry budget ({', '.join(modes)})"]
        out.append(
            f"{'K':>5} {'ok':>5} {'conflict':>9} {'other':>6} {'attempts':>9} {'push/tenant':>12} "
            f"{'commits':>8} {'lost':>5} {'wall s':>7}"
        )
        for r in report["gitopsWriters"]:
            other = sum(r["otherFailures"].values()) + r["unfinished"]
            out.append(
                f"{r['writers']:>5} {r['succeeded']:>5} {r['gitOpsConflict']:>9} {other:>6} {r['pushAttempts']:>9} "
                f"{r['pushesPerTenant']:>12} {r['commitsLanded']:>8} {r['lostFiles']:>5} {r['wallSeconds']:>7}"
            )
    return out


def gitops_problems(report: dict[str, Any]) -> list[str]:
    """Correctness only (no timing thresholds): a successful writer whose file is not on the branch."""
    return [
        f"{r['writers']} writers: {r['lostFiles']} successful tenants' files are not on the branch"
        for r in report.get("gitopsWriters", [])
        if r["lostFiles"]
    ]


def measure(
    report: dict[str, Any],
    parts: set[str],
    samples: int,
    writers: Sequence[int],
    processes: bool = False,
    fleets: Sequence[str] = FLEETS,
    sharded_read: str = SHARDED_READ,
    quickack: bool = True,
) -> None:
    import logging

    logging.getLogger("dulwich").setLevel(logging.ERROR)  # "object filtering not recognized" on the reference run
    if "write" in parts:
        print("gitops write cost ...", file=sys.stderr, flush=True)
        report["gitopsWrite"] = measure_write_cost(samples, fleets, sharded_read=sharded_read, quickack=quickack)
    if "writers" in parts:
        report["gitopsWriters"] = []
        for k in writers:
            print(f"gitops writers K={k} ...", file=sys.stderr, flush=True)
            report["gitopsWriters"].append(measure_writers(k, processes=processes))


def main(argv: list[str] | None = None) -> int:
    from benchmarks.machine import machine, revision

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("write", "writers"), action="append", help="run only these")
    parser.add_argument("--samples", type=int, default=30, help="writes per fleet size (default 30)")
    parser.add_argument("--writers", type=int, nargs="+", default=list(WRITERS), help="K values (default 10 100 1000)")
    parser.add_argument("--processes", action="store_true", help="writers as processes (fork), not threads")
    parser.add_argument("--fleets", nargs="+", default=list(FLEETS), help=f"default {' '.join(FLEETS)}")
    parser.add_argument("--sharded-read", choices=("blob", "tree2"), default=SHARDED_READ, help="default %(default)s")
    parser.add_argument(
        "--no-quickack", action="store_true", help="leave git daemon's delayed-ACK stall in (see quick_acks)"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    BENCH_DIR.mkdir(exist_ok=True)
    report: dict[str, Any] = {"machine": machine(), "revision": revision()}
    parts = set(args.only or ("write", "writers"))
    measure(
        report, parts, args.samples, args.writers, args.processes, args.fleets, args.sharded_read, not args.no_quickack
    )
    m = report["machine"]
    print(f"machine: {m['nproc']} CPUs, {m['cpu_model']}, {m['ram_gib']} GiB RAM, Python {m['python']}")
    print(f"revision: {report['revision']['commit'][:12]}{' (dirty)' if report['revision']['dirty'] else ''}")
    print("\n".join(render_gitops(report)))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    problems = gitops_problems(report)
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
