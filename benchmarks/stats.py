"""Summary statistics of samples, and the time this process spends in the garbage collector."""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Sequence


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
