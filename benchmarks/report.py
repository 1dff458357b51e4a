"""The printed report (the tables in docs/benchmarks.md): one function per section, and what counts as a failure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

LATENCY_COLUMNS = [
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
]
RELEASE_COPY_COLUMNS = [
    "model",
    "build median ms",
    "build p95 ms",
    "state median ms",
    "state-build median ms",
    "ms/image",
    "images/s",
    "KiB/s",
]
BURST_COLUMNS = [
    "wall s",
    "ACTIVE",
    "tenants/s",
    "ms/tenant",
    "handler share",
    "GC s",
    "ASL retries",
    "lost",
    "duplicated",
    "pushes/tenant",
]


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
    out = render_header(report)
    if "latency" in report:
        out += render_latency(report["latency"])
    if "burst" in report:
        out += render_burst(report["burst"])
    if "imports" in report:
        out += render_imports(report["imports"])
    if "importsTraced" in report:
        out += render_imports(report["importsTraced"], "with tracing on (Lambda's variables set)")
    if "importsInstructions" in report:
        out += render_import_counts(report["importsInstructions"])
    return "\n".join(out)


def render_header(report: dict[str, Any]) -> list[str]:
    """The machine, the revision measured, and the load average around the run."""
    m = report["machine"]
    return [
        f"machine: {m['nproc']} CPUs, {m['cpu_model']}, {m['ram_gib']} GiB RAM, Python {m['python']}",
        f"revision: {report['revision']['commit'][:12]}{' (dirty)' if report['revision']['dirty'] else ''}",
        "load average (1, 5, 15 min) at start {} and end {}".format(
            *(", ".join(f"{v:.2f}" for v in report.get(k, [])) for k in ("loadAverageAtStart", "loadAverageAtEnd"))
        ),
    ]


def render_latency(lat: dict[str, Any]) -> list[str]:
    """Section 1: per model, then per handler and per task state; the release copy; what failed."""
    models = list(lat["summary"])
    rows = []
    for model, s in lat["summary"].items():
        e, w, gc_ms, net = s["executionMs"], s["wallMs"], s["gcMs"], s["wallMinusGcMs"]
        medians_and_p95s = [e["median"], e["p95"], w["median"], w["p95"], gc_ms["median"], net["median"], net["p95"]]
        rows.append([model, e["n"], *medians_and_p95s, s["aslRetries"]])
    out = [
        "",
        "1. end-to-end latency, one signup at a time (ms)",
        table(LATENCY_COLUMNS, rows),
        "",
        "   handler time per invocation, median (ms; - = not invoked for that model)",
        by_model(models, "handlers", lat["summary"], lambda s: s["handlersTotalMs"]["median"]),
        "",
        "   task state duration in the execution history, median (ms)",
        by_model(models, "states", lat["summary"], None),
    ]
    if "flux" in lat:
        f = lat["flux"]
        tools = ", ".join(f"{k} {v:.2f} s" for k, v in f["processSeconds"].items())
        out += [
            "",
            "   Flux emulator's own cost (real helm and kubectl processes, included in the wall clock above): "
            f"{f['renders']} renders, {f['eventsSent']} events, {tools}; {f['perRenderMs']} ms per render",
        ]
    if "artifacts" in lat:
        out += render_release_copy(lat["artifacts"])
    if lat["failures"]:
        out += render_latency_failures(lat)
    return out


def render_release_copy(a: dict[str, Any]) -> list[str]:
    """The remote tenants' CodeBuild builds, and one image's skopeo steps run alone."""
    row = [
        "remote",
        a["buildMs"]["median"],
        a["buildMs"]["p95"],
        a["stateMs"]["median"],
        a["callbackPathMs"]["median"],
        a["msPerImage"],
        a["imagesPerSecond"],
        a["kibPerSecond"],
    ]
    return [
        "",
        f"   release copy: {a['builds']} CodeBuild builds of {a['imagesPerBuild']} multi-arch images, "
        f"{a['bytesPerBuild']} bytes each (tiny images: per-image overhead, not bandwidth)",
        table(RELEASE_COPY_COLUMNS, [row]),
        "   one image's steps run alone, median ms: "
        + ", ".join(f"skopeo {step} {ms}" for step, ms in a["skopeoMs"].items()),
    ]


def render_latency_failures(lat: dict[str, Any]) -> list[str]:
    out = ["FAILED: " + "; ".join(lat["failures"])]
    for detail in lat.get("failureDetails", []):
        tasks = [f"{t['state']} {t['event']} {t['error']}: {t['cause']}"[:400] for t in detail["failedTasks"]]
        out.append(f"  {detail['model']} {detail['tenantId']}: {detail['tenant']}; " + " | ".join(tasks))
    return out


def render_burst(b: dict[str, Any]) -> list[str]:
    """Section 2: throughput of the burst, and its GitOps integrity."""
    row = [
        b["wallSeconds"],
        b["active"],
        b["tenantsPerSecond"],
        b["msPerTenant"],
        f"{b['handlerShareOfWall']:.0%}",
        b["gcSeconds"],
        len(b["executionsWithAslRetries"]),
        b["lostCommits"],
        b["duplicatedCommits"],
        b.get("pushesPerTenant", "-"),
    ]
    out = [
        "",
        f"2. burst of {b['size']} signups put at once ({', '.join(f'{k} {v}' for k, v in b['tiers'].items())})",
        table(BURST_COLUMNS, [row]),
    ]
    if b["notActive"]:
        out.append(f"NOT ACTIVE: {b['notActive']}")
    return out


def render_imports(imp: dict[str, Any], mode: str = "tracing off") -> list[str]:
    """Section 3: each function's cold import against boto3's."""
    rows = [["boto3 (reference)", imp["boto3"]["medianMs"], "1.00"]]
    rows += [[name, f["medianMs"], f"{f['ratioToBoto3']:.2f}"] for name, f in imp["functions"].items()]
    return [
        "",
        f"3. cold import in a fresh interpreter, {mode}, median of {imp['repeats']} (ms)",
        table(["module", "median ms", "x boto3"], rows),
    ]


def render_import_counts(imp: dict[str, Any]) -> list[str]:
    """Section 3, counted: each function's cold import in instructions, against boto3's."""
    rows = [["boto3 (reference)", f"{imp['boto3']['instructions'] / 1e6:.1f}", "1.00"]]
    rows += [
        [name, f"{f['instructions'] / 1e6:.1f}", f"{f['ratioToBoto3']:.2f}"] for name, f in imp["functions"].items()
    ]
    mode = "tracing on" if imp["inLambda"] else "tracing off"
    summary = imp["summary"]
    return [
        "",
        f"3. cold import in a fresh interpreter, {mode}, counted (millions of instructions, valgrind; the"
        f" interpreter's start, {imp['interpreterStart'] / 1e6:.1f} M, subtracted)",
        table(["module", "M instructions", "x boto3"], rows),
        f"ratio to boto3: min {summary['minRatio']}, median {summary['medianRatio']}, max {summary['maxRatio']};"
        f" {summary['within2x']} of {summary['of']} within 2x",
    ]


def problems(report: dict[str, Any]) -> list[str]:
    """What makes the run fail (the exit status): failed onboardings or copies, lost or duplicated commits."""
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
