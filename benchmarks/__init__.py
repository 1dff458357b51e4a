"""``make bench``: benchmarks of the onboarding pipeline on the embedded local stack (entry point: run.py).

Modules by job: signups.py (the signups measured), latency.py and artifacts.py (one signup at a time, and
the release copy of remote tenants), burst.py (signups at once), coldimports.py (each function's cold
import), stats.py (percentiles, GC time), machine.py (what ran where), report.py (the printed tables).
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO_ROOT / ".bench"
