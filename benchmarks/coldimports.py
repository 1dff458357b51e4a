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

IMPORT_SNIPPET = (
    "import time,sys,importlib.util\n"
    "t=time.perf_counter()\n"
    "spec=importlib.util.spec_from_file_location('app', sys.argv[1])\n"
    "module=importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "print(time.perf_counter()-t)\n"
)
BOTO3_SNIPPET = "import time\nt=time.perf_counter()\nimport boto3\nprint(time.perf_counter()-t)\n"


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


def time_fresh_process(
    code: str, args: Sequence[str], repeats: int, timeout: float, python: Path | None = None
) -> list[float]:
    """Milliseconds reported by ``code`` in ``repeats`` fresh interpreters, after one unmeasured warm-up."""
    env = import_env()
    samples: list[float] = []
    for attempt in range(repeats + 1):
        result = subprocess.run(
            [str(python or sys.executable), "-c", code, *args],
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
    python = clean_python()
    boto3_samples = time_fresh_process(BOTO3_SNIPPET, [], repeats, timeout, python)
    boto3_median = statistics.median(boto3_samples)
    functions: dict[str, Any] = {}
    for app in sorted((REPO_ROOT / "functions").glob("*/app.py")):
        samples = time_fresh_process(IMPORT_SNIPPET, [str(app)], repeats, timeout, python)
        median = statistics.median(samples)
        functions[app.parent.name] = {
            "samplesMs": [round(s, 1) for s in samples],
            "medianMs": round(median, 1),
            "ratioToBoto3": round(median / boto3_median, 2),
        }
    return {
        "environment": f"clean virtualenv: {' '.join(runtime_requirements())}",
        "repeats": repeats,
        "boto3": {"samplesMs": [round(s, 1) for s in boto3_samples], "medianMs": round(boto3_median, 1)},
        "functions": functions,
    }


def main() -> None:
    result = measure_imports(repeats=int(sys.argv[1]) if len(sys.argv) > 1 else 5, timeout=120)
    print(result["environment"])
    print(f"import boto3: {result['boto3']['medianMs']} ms (median of {result['repeats']})")
    for name, row in result["functions"].items():
        print(f"{name:28} {row['medianMs']:7.1f} ms  {row['ratioToBoto3']:.2f}x boto3")


if __name__ == "__main__":
    main()
