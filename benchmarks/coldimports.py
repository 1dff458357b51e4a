"""Cold imports: each function's ``app.py`` loaded from its path in a fresh interpreter, against ``import boto3``."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

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
