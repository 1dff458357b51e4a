"""Cold imports: each function's ``app.py`` loaded from its path in a fresh interpreter, against ``import boto3``.

Measured in a virtualenv of its own that holds only what Lambda loads: the shared layer's requirements.txt plus
boto3 (the runtime's SDK; pinned as requirements-dev.txt pins it). It is created once under
``.bench/venvs/<hash of those requirements>`` and reused while they stay the same. Run this part alone with
``.venv/bin/python benchmarks/coldimports.py [REPEATS] [--against REV] [--in-lambda] [--first-client]``.

``--against REV`` also measures an export of commit REV (``git archive`` of its functions/ and layers/shared, in
the clean virtualenv of REV's own requirements), in the same rounds: a before/after that a changing load weighs
on alike. The targets (issue 13 §5): every function at most 250 ms and at most 2x ``import boto3``.

By default Lambda's own variables are absent, so Powertools' Tracer counts as disabled. ``--in-lambda`` sets them
(``LAMBDA_TASK_ROOT`` ...): the Tracer is then on, as with the template's ``Tracing: Active``, and its import of
the X-Ray SDK and patching of botocore fall in the import too.

``--first-client`` times, in the same interpreter, the import and then what every function's first invocation
does before its first call: ``import boto3`` and one client (DynamoDB, the store most functions open first),
against ``import boto3`` plus that client alone. The functions import boto3 with their first client, not at
init; with tracing on, the botocore patching imports much of botocore during init instead. This is the sum that
does not change when work only moves between init and the first invocation.

``--instructions`` counts, instead of timing, the instructions each import executes (valgrind's cachegrind, no
cache simulation), once per function after an uncounted run, from where the timings start to where they stop
(``COUNTED_START`` subtracted, no interpreter shutdown). On this shared virtual machine two timings of one import
differ by 30 % and more; two counts by 0.05 %, so a count shows a change of a few milliseconds that medians of
timings cannot. It needs ``valgrind`` (``make bench`` installs it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the benchmarks package is in the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import BENCH_DIR, REPO_ROOT

CEILING_MS = 250.0  # issue 13 §5: every function's cold import at most 250 ms ...
MAX_RATIO = 2.0  # ... and at most 2x `import boto3` measured in the same run

# Each prints its wall seconds and its CPU seconds (process time: what a loaded machine inflates least).
IMPORT_SNIPPET = (
    "import time,sys,importlib.util\n"
    "t,c=time.perf_counter(),time.process_time()\n"
    "spec=importlib.util.spec_from_file_location('app', sys.argv[1])\n"
    "module=importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "print(time.perf_counter()-t, time.process_time()-c)\n"
)
BOTO3_SNIPPET = (
    "import time\nt,c=time.perf_counter(),time.process_time()\nimport boto3\n"
    "print(time.perf_counter()-t, time.process_time()-c)\n"
)
# --instructions: the same imports, counted from the same start (the modules the timed snippets load before their
# clock starts), and ended by os._exit, since the timings do not include the interpreter's shutdown either.
COUNT_START = "import os,sys,time,importlib.util\n"
COUNT_END = "os._exit(0)\n"
COUNTED_START = COUNT_START + COUNT_END
COUNTED_BOTO3 = COUNT_START + "import boto3\n" + COUNT_END
COUNTED_IMPORT = (
    COUNT_START + "spec=importlib.util.spec_from_file_location('app', sys.argv[1])\n"
    "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n" + COUNT_END
)
# --first-client: the first invocation's boto3 import and first client, timed with the import before it.
FIRST_CLIENT = "import boto3\nboto3.client('dynamodb')\n"


def with_first_client(snippet: str) -> str:
    """``snippet`` with the first client built before the timer stops."""
    stop = "print(time.perf_counter()-t"
    return snippet.replace(stop, FIRST_CLIENT + stop)


# What Lambda itself sets: with LAMBDA_TASK_ROOT, Powertools' Tracer counts as enabled (the template's
# `Tracing: Active`), and so imports the X-Ray SDK and patches botocore during the import.
LAMBDA_ENV = {
    "LAMBDA_TASK_ROOT": "/var/task",
    "AWS_LAMBDA_FUNCTION_NAME": "cold-import-benchmark",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
}


def import_env(root: Path = REPO_ROOT, in_lambda: bool = False) -> dict[str, str]:
    """A Lambda-like environment: the template's Globals, a region, no endpoint, no credentials; with
    ``in_lambda``, also the variables Lambda sets (so tracing is on, as on AWS).

    Bytecode goes to .bench/pycache (PYTHONPYCACHEPREFIX), so nothing is written into the source tree.
    """
    return {
        **(LAMBDA_ENV if in_lambda else {}),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(root / "layers" / "shared"),
        "PYTHONPYCACHEPREFIX": str(BENCH_DIR / "pycache"),
        "POWERTOOLS_SERVICE_NAME": "tenant-onboarding",
        "POWERTOOLS_METRICS_NAMESPACE": "TenantOnboarding",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }


def runtime_requirements(root: Path = REPO_ROOT) -> list[str]:
    """The layer's requirements, plus boto3 at the version requirements-dev.txt pins (the runtime provides it)."""
    layer = (root / "layers" / "shared" / "requirements.txt").read_text().splitlines()
    dev = (root / "requirements-dev.txt").read_text()
    boto3 = re.search(r"^boto3==\S+", dev, re.MULTILINE)
    pins = [line.split("#")[0].strip() for line in layer if line.split("#")[0].strip()]
    return [*pins, boto3.group(0) if boto3 else "boto3"]


def clean_python(root: Path = REPO_ROOT) -> Path:
    """The interpreter of the clean virtualenv, created (once per set of requirements) with the layer's Python."""
    requirements = runtime_requirements(root)
    digest = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:12]
    venv = BENCH_DIR / "venvs" / f"runtime-{digest}"
    python = venv / "bin" / "python"
    if (venv / ".complete").exists():
        return python
    base = "python3.11" if subprocess.run(["which", "python3.11"], capture_output=True).returncode == 0 else "python3"
    subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *requirements], check=True)
    (venv / ".complete").write_text(json.dumps(requirements))
    return python


def export(rev: str) -> tuple[str, Path]:
    """(full commit, directory): commit ``rev``'s functions/, layers/shared and requirements, once per commit."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    tree = BENCH_DIR / "trees" / commit[:12]
    if not (tree / ".complete").exists():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", commit, "functions", "layers/shared", "requirements-dev.txt"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        (tree / ".complete").write_text(commit)
    return commit, tree


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (other work on the machine inflates wall times; CPU time less so)."""
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def run_once(
    code: str,
    args: Sequence[str],
    timeout: float,
    python: Path | None = None,
    root: Path = REPO_ROOT,
    in_lambda: bool = False,
) -> tuple[float, float]:
    """(wall ms, CPU ms) of ``code`` in a fresh interpreter."""
    result = interpret(code, args, python or Path(sys.executable), root, in_lambda, timeout)
    wall, cpu = result.stdout.strip().splitlines()[-1].split()
    return float(wall) * 1000, float(cpu) * 1000


def interpret(
    code: str,
    args: Sequence[str],
    python: Path,
    root: Path,
    in_lambda: bool,
    timeout: float,
    wrapper: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """``python -c code args`` (under ``wrapper``, such as valgrind) in the import environment; an error if it fails."""
    result = subprocess.run(
        [*wrapper, str(python), "-c", code, *args],
        cwd=REPO_ROOT,
        env=import_env(root, in_lambda),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"import failed ({' '.join(args) or 'boto3'}):\n{result.stderr[-2000:]}")
    return result


def time_fresh_process(
    code: str, args: Sequence[str], repeats: int, timeout: float, python: Path | None = None
) -> list[float]:
    """Wall milliseconds of ``code`` in ``repeats`` fresh interpreters, after one unmeasured warm-up."""
    return [run_once(code, args, timeout, python)[0] for attempt in range(repeats + 1)][1:]


def _row(wall: list[float], cpu: list[float], boto3_wall: float, boto3_cpu: float) -> dict[str, Any]:
    median = statistics.median(wall)
    return {
        "samplesMs": [round(s, 1) for s in wall],
        "medianMs": round(median, 1),
        "ratioToBoto3": round(median / boto3_wall, 2),
        "cpuSamplesMs": [round(s, 1) for s in cpu],
        "cpuMedianMs": round(statistics.median(cpu), 1),
        "cpuRatioToBoto3": round(statistics.median(cpu) / boto3_cpu, 2),
        "withinTargets": median <= CEILING_MS and median / boto3_wall <= MAX_RATIO,
    }


Run = tuple[str, str, list[str], Path, Path]  # name ("before:" prefixed for --against), code, args, root, python


def import_runs(
    import_snippet: str, boto3_snippet: str, against: str | None, only: Sequence[str]
) -> tuple[list[Path], list[Run], dict[str, Any]]:
    """The functions' app.py files, what to run for boto3 and each of them (and each of ``against``'s), and
    ``against``'s commit and environment."""
    python = clean_python()
    apps = [app for app in sorted((REPO_ROOT / "functions").glob("*/app.py")) if not only or app.parent.name in only]
    if not apps:
        raise ValueError(f"no function named {', '.join(only)}")
    trees: dict[str, tuple[Path, Path]] = {"": (REPO_ROOT, python)}
    before: dict[str, Any] = {}
    if against:
        commit, tree = export(against)
        trees["before:"] = (tree, clean_python(tree))
        before = {"commit": commit, "environment": f"clean virtualenv: {' '.join(runtime_requirements(tree))}"}
    runs: list[Run] = [("boto3", boto3_snippet, [], REPO_ROOT, python)]
    for app in apps:
        for prefix, (root, interpreter) in trees.items():
            path = root / "functions" / app.parent.name / "app.py"
            if path.exists():
                runs.append((prefix + app.parent.name, import_snippet, [str(path)], root, interpreter))
    return apps, runs, before


def warm(code: str, args: Sequence[str], python: Path, root: Path, in_lambda: bool, timeout: float) -> None:
    """Runs ``code`` once, uncounted: it fills the bytecode cache (.bench/pycache) for the count after it."""
    interpret(code, args, python, root, in_lambda, timeout)


def instructions(code: str, args: Sequence[str], python: Path, root: Path, in_lambda: bool, timeout: float) -> int:
    """The instructions a fresh interpreter executes to run ``code`` (valgrind's cachegrind, no cache model)."""
    valgrind = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")
    result = interpret(code, args, python, root, in_lambda, timeout, wrapper=valgrind)
    counted = re.search(r"I\s+refs:\s+([\d,]+)", result.stderr)
    if counted is None:
        raise RuntimeError(f"no count from valgrind ({' '.join(args) or 'boto3'}):\n{result.stderr[-2000:]}")
    return int(counted.group(1).replace(",", ""))


def count_imports(
    against: str | None = None, in_lambda: bool = False, only: Sequence[str] = (), timeout: float = 600
) -> dict[str, Any]:
    """Instructions of ``import boto3`` and of each function's import, once each (the count does not depend on
    the machine's load), less those of the interpreter's start (COUNTED_START); both cores count at once.

    Each snippet first runs once uncounted, so that the bytecode cache is filled: a count with a cold cache
    includes compiling every module (``import boto3`` then costs about 7 times as much)."""
    if shutil.which("valgrind") is None:
        raise RuntimeError("--instructions needs valgrind (Debian package valgrind; make bench installs it)")
    apps, runs, before = import_runs(COUNTED_IMPORT, COUNTED_BOTO3, against, only)
    python = clean_python()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for warmed in [pool.submit(warm, code, args, py, root, in_lambda, timeout) for _, code, args, root, py in runs]:
            warmed.result()
        empty = pool.submit(instructions, COUNTED_START, [], python, REPO_ROOT, in_lambda, timeout)
        futures = {
            name: pool.submit(instructions, code, args, python_, root, in_lambda, timeout)
            for name, code, args, root, python_ in runs
        }
        counts = {name: future.result() for name, future in futures.items()}
    start = empty.result()
    boto3 = counts["boto3"] - start

    def rows(prefix: str) -> dict[str, Any]:
        names = [a.parent.name for a in apps if prefix + a.parent.name in counts]
        return {
            name: {
                "instructions": counts[prefix + name] - start,
                "ratioToBoto3": round((counts[prefix + name] - start) / boto3, 3),
            }
            for name in names
        }

    functions = rows("")
    ratios = sorted(row["ratioToBoto3"] for row in functions.values())
    result: dict[str, Any] = {
        "environment": f"clean virtualenv: {' '.join(runtime_requirements())}",
        "inLambda": in_lambda,
        "interpreterStart": start,
        "boto3": {"instructions": boto3},
        "functions": functions,
        "summary": {
            "minRatio": ratios[0],
            "medianRatio": round(statistics.median(ratios), 3),
            "maxRatio": ratios[-1],
            "within2x": sum(r <= MAX_RATIO for r in ratios),
            "of": len(ratios),
        },
    }
    if against:
        result["before"] = {**before, "functions": rows("before:")}
    return result


def measure_imports(
    repeats: int,
    timeout: float,
    against: str | None = None,
    in_lambda: bool = False,
    first_client: bool = False,
    only: Sequence[str] = (),
) -> dict[str, Any]:
    """Rounds of: ``import boto3``, then every function's import, each in a fresh interpreter; the first round
    (it fills the bytecode and page caches) is not kept. Interleaved so that a machine whose load changes
    during the run weighs on boto3 and on every function alike. With ``against``, each function of that commit
    is imported right after the same function of the work tree, in the same rounds. With ``in_lambda``, in
    Lambda's own variables too (tracing on). With ``first_client``, each timing (boto3's too) also builds the
    first boto3 client (``FIRST_CLIENT``). With ``only``, just those functions (more rounds in the same time)."""
    import_snippet, boto3_snippet = IMPORT_SNIPPET, BOTO3_SNIPPET
    if first_client:
        import_snippet, boto3_snippet = with_first_client(IMPORT_SNIPPET), with_first_client(BOTO3_SNIPPET)
    apps, runs, before = import_runs(import_snippet, boto3_snippet, against, only)
    wall: dict[str, list[float]] = {name: [] for name, *_ in runs}
    cpu: dict[str, list[float]] = {name: [] for name in wall}
    load = [load_average()]
    for round_ in range(repeats + 1):
        for name, code, args, root, interpreter in runs:
            w, c = run_once(code, args, timeout, interpreter, root, in_lambda)
            if round_:
                wall[name].append(w)
                cpu[name].append(c)
    load.append(load_average())
    boto3_wall, boto3_cpu = statistics.median(wall["boto3"]), statistics.median(cpu["boto3"])

    def rows(prefix: str) -> dict[str, Any]:
        names = [a.parent.name for a in apps if prefix + a.parent.name in wall]
        return {name: _row(wall[prefix + name], cpu[prefix + name], boto3_wall, boto3_cpu) for name in names}

    functions = rows("")
    medians = [row["medianMs"] for row in functions.values()]
    result: dict[str, Any] = {
        "environment": f"clean virtualenv: {' '.join(runtime_requirements())}",
        "repeats": repeats,
        "inLambda": in_lambda,
        "firstClient": first_client,
        "loadAverage": {"start": load[0], "end": load[1]},
        "boto3": {
            "samplesMs": [round(s, 1) for s in wall["boto3"]],
            "medianMs": round(boto3_wall, 1),
            "cpuSamplesMs": [round(s, 1) for s in cpu["boto3"]],
            "cpuMedianMs": round(boto3_cpu, 1),
        },
        "functions": functions,
        "summary": {
            "medianOfMediansMs": round(statistics.median(medians), 1),
            "slowestMs": max(medians),
            "withinTargets": sum(row["withinTargets"] for row in functions.values()),
            "of": len(functions),
        },
    }
    if against:
        result["before"] = {**before, "functions": rows("before:")}
    return result


def print_counts(result: dict[str, Any], out: Path | None) -> None:
    print(result["environment"] + (" (with Lambda's variables: tracing on)" if result["inLambda"] else ""))
    print(f"import boto3: {result['boto3']['instructions'] / 1e6:.1f} M instructions")
    before = result.get("before", {}).get("functions", {})
    for name, row in result["functions"].items():
        line = f"{name:28} {row['instructions'] / 1e6:8.1f} M {row['ratioToBoto3']:6.3f}x boto3"
        if name in before:
            line += f"   before: {before[name]['instructions'] / 1e6:8.1f} M {before[name]['ratioToBoto3']:6.3f}x"
        print(line)
    summary = result["summary"]
    print(
        f"ratio to boto3: min {summary['minRatio']}, median {summary['medianRatio']}, max {summary['maxRatio']}; "
        f"{summary['within2x']} of {summary['of']} within {MAX_RATIO}x"
    )
    if out:
        out.write_text(json.dumps(result, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repeats", nargs="?", type=int, default=5, help="measured rounds (after one warm-up)")
    parser.add_argument("--against", metavar="REV", help="also measure commit REV in the same rounds")
    parser.add_argument(
        "--in-lambda", action="store_true", help="with the variables Lambda sets: Powertools' Tracer on, as on AWS"
    )
    parser.add_argument(
        "--first-client",
        action="store_true",
        help="also time the first invocation's `import boto3` and first client (boto3's row too)",
    )
    parser.add_argument("--only", metavar="NAME,...", default="", help="just these functions (comma-separated)")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions (valgrind) instead of timing: once each, so REPEATS does not apply",
    )
    parser.add_argument("--out", type=Path, help="write the JSON result here")
    args = parser.parse_args()
    only = [name for name in args.only.split(",") if name]
    if args.instructions and args.first_client:
        parser.error("--instructions counts the import alone: it does not take --first-client")
    if args.instructions:
        print_counts(count_imports(against=args.against, in_lambda=args.in_lambda, only=only), args.out)
        return
    result = measure_imports(
        repeats=args.repeats,
        timeout=120,
        against=args.against,
        in_lambda=args.in_lambda,
        first_client=args.first_client,
        only=only,
    )
    print(
        result["environment"]
        + (" (with Lambda's variables: tracing on)" if args.in_lambda else "")
        + (" (each timing ends after `import boto3` and a first client)" if args.first_client else "")
    )
    load = result["loadAverage"]
    print(f"load average (1, 5, 15 min): {load['start']} at the start, {load['end']} at the end")
    boto3 = result["boto3"]
    label = "import boto3 + first client" if args.first_client else "import boto3"
    print(f"{label}: {boto3['medianMs']} ms wall, {boto3['cpuMedianMs']} ms CPU (medians of {result['repeats']})")
    before = result.get("before", {}).get("functions", {})
    for name, row in result["functions"].items():
        line = (
            f"{name:28} {row['medianMs']:8.1f} ms {row['ratioToBoto3']:5.2f}x   "
            f"CPU {row['cpuMedianMs']:7.1f} ms {row['cpuRatioToBoto3']:5.2f}x boto3"
        )
        if name in before:
            line += f"   before: {before[name]['medianMs']:7.1f} ms, CPU {before[name]['cpuRatioToBoto3']:5.2f}x"
        print(line + ("" if row["withinTargets"] else "   (over a target)"))
    summary = result["summary"]
    print(
        f"median {summary['medianOfMediansMs']} ms, slowest {summary['slowestMs']} ms; "
        f"{summary['withinTargets']} of {summary['of']} within {CEILING_MS:.0f} ms and {MAX_RATIO}x boto3"
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
