"""Cold imports: each function's ``app.py`` loaded from its path in a fresh interpreter, against ``import boto3``.

Measured in a virtualenv of its own that holds only what Lambda loads: the shared layer's requirements.txt plus
boto3 (the runtime's SDK; pinned as requirements-dev.txt pins it). It is created once under
``.bench/venvs/<hash of those requirements>`` and reused while they stay the same. Run this part alone with
``.venv/bin/python benchmarks/coldimports.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the benchmarks package is in the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import BENCH_DIR, REPO_ROOT

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


def runtime_requirements() -> list[str]:
    """The layer's requirements, plus boto3 at the version requirements-dev.txt pins (the runtime provides it)."""
    layer = (REPO_ROOT / "layers" / "shared" / "requirements.txt").read_text().splitlines()
    dev = (REPO_ROOT / "requirements-dev.txt").read_text()
    boto3 = re.search(r"^boto3==\S+", dev, re.MULTILINE)
    pins = [line.split("#")[0].strip() for line in layer if line.split("#")[0].strip()]
    return [*pins, boto3.group(0) if boto3 else "boto3"]


def clean_python() -> Path:
    """The interpreter of the clean virtualenv, created (once per set of requirements) with the layer's Python."""
    requirements = runtime_requirements()
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


def run_once(code: str, args: Sequence[str], timeout: float, python: Path | None = None) -> tuple[float, float]:
    """(wall ms, CPU ms) of ``code`` in a fresh interpreter."""
    result = subprocess.run(
        [str(python or sys.executable), "-c", code, *args],
        cwd=REPO_ROOT,
        env=import_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"import failed ({' '.join(args) or 'boto3'}):\n{result.stderr[-2000:]}")
    wall, cpu = result.stdout.strip().splitlines()[-1].split()
    return float(wall) * 1000, float(cpu) * 1000


def time_fresh_process(
    code: str, args: Sequence[str], repeats: int, timeout: float, python: Path | None = None
) -> list[float]:
    """Wall milliseconds of ``code`` in ``repeats`` fresh interpreters, after one unmeasured warm-up."""
    return [run_once(code, args, timeout, python)[0] for attempt in range(repeats + 1)][1:]


def _row(wall: list[float], cpu: list[float], boto3_wall: float, boto3_cpu: float) -> dict[str, Any]:
    return {
        "samplesMs": [round(s, 1) for s in wall],
        "medianMs": round(statistics.median(wall), 1),
        "ratioToBoto3": round(statistics.median(wall) / boto3_wall, 2),
        "cpuSamplesMs": [round(s, 1) for s in cpu],
        "cpuMedianMs": round(statistics.median(cpu), 1),
        "cpuRatioToBoto3": round(statistics.median(cpu) / boto3_cpu, 2),
    }


def measure_imports(repeats: int, timeout: float) -> dict[str, Any]:
    """Rounds of: ``import boto3``, then every function's import, each in a fresh interpreter; the first round
    (it fills the bytecode and page caches) is not kept. Interleaved so that a machine whose load changes
    during the run weighs on boto3 and on every function alike."""
    python = clean_python()
    apps = sorted((REPO_ROOT / "functions").glob("*/app.py"))
    wall: dict[str, list[float]] = {"boto3": [], **{a.parent.name: [] for a in apps}}
    cpu: dict[str, list[float]] = {name: [] for name in wall}
    for round_ in range(repeats + 1):
        for name, code, args in [
            ("boto3", BOTO3_SNIPPET, []),
            *((a.parent.name, IMPORT_SNIPPET, [str(a)]) for a in apps),
        ]:
            w, c = run_once(code, args, timeout, python)
            if round_:
                wall[name].append(w)
                cpu[name].append(c)
    boto3_wall, boto3_cpu = statistics.median(wall["boto3"]), statistics.median(cpu["boto3"])
    return {
        "environment": f"clean virtualenv: {' '.join(runtime_requirements())}",
        "repeats": repeats,
        "boto3": {
            "samplesMs": [round(s, 1) for s in wall["boto3"]],
            "medianMs": round(boto3_wall, 1),
            "cpuMedianMs": round(boto3_cpu, 1),
        },
        "functions": {
            a.parent.name: _row(wall[a.parent.name], cpu[a.parent.name], boto3_wall, boto3_cpu) for a in apps
        },
    }


def main() -> None:
    result = measure_imports(repeats=int(sys.argv[1]) if len(sys.argv) > 1 else 5, timeout=120)
    print(result["environment"])
    boto3 = result["boto3"]
    print(f"import boto3: {boto3['medianMs']} ms wall, {boto3['cpuMedianMs']} ms CPU (medians of {result['repeats']})")
    for name, row in result["functions"].items():
        print(
            f"{name:28} {row['medianMs']:8.1f} ms {row['ratioToBoto3']:5.2f}x   "
            f"CPU {row['cpuMedianMs']:7.1f} ms {row['cpuRatioToBoto3']:5.2f}x boto3"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
