"""Contract properties at scale: the properties of tests/unit/test_contract_properties.py over 10,000+ examples.

The same strategies and the same ``check`` as ``make test``, with many more examples: valid signups,
mutated ones (unknown keys, snake_case keys, wrong JSON types, bad CIDRs, missing fields) and arbitrary JSON
objects. Reported: the examples run, how many were accepted and rejected, the property violations (an accepted
detail that is not schema-valid, or a rejection that names a path absent from the detail or misses a
violation) and the crashes (any exception but a ValidationError). Both must be 0. Every example runs; the
first few failures are kept, with their detail, in the JSON.

Run as a section of ``make bench`` (``--only properties``), or alone: ``python benchmarks/properties.py [N]``.
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the repository root and the shared layer on the path
    sys.path[:0] = [
        str(Path(__file__).resolve().parents[1]),
        str(Path(__file__).resolve().parents[1] / "layers/shared"),
    ]

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from benchmarks.report import table
from tests.unit.test_contract_properties import REQUIRED, Mutated, check, json_values, mutations, valid_signups

DEFAULT_EXAMPLES = 10_000
KEPT_FAILURES = 5
COLUMNS = ["generator", "examples", "accepted", "rejected", "violations", "crashes", "s"]


def _run(name: str, strategy: st.SearchStrategy[Mutated], examples: int, *, valid: bool = False) -> dict[str, Any]:
    """Run ``check`` over ``examples`` generated details, counting outcomes rather than stopping at a failure.

    ``valid``: every detail is a valid signup, so a rejection is a violation too.
    """
    counts = {"examples": 0, "accepted": 0, "rejected": 0, "violations": 0, "crashes": 0}
    failures: list[dict[str, Any]] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(mutated: Mutated) -> None:
        counts["examples"] += 1
        try:
            outcome = check(mutated.detail, mutated.named)
            assert outcome.accepted or not valid, ("a valid signup was rejected", outcome.errors)
        except AssertionError as exc:
            counts["violations"] += 1
            kind, error = "violation", repr(exc)[:2000]
        except Exception:  # noqa: BLE001 - a crash, whatever it is: counted, kept, and the run goes on
            counts["crashes"] += 1
            kind, error = "crash", traceback.format_exc(limit=5)
        else:
            counts["accepted" if outcome.accepted else "rejected"] += 1
            return
        if len(failures) < KEPT_FAILURES:
            failures.append({"kind": kind, "error": error, "detail": repr(mutated.detail)[:4000]})

    started = time.perf_counter()
    run()
    return {"generator": name, **counts, "seconds": round(time.perf_counter() - started, 2), "failures": failures}


def measure_properties(examples: int = DEFAULT_EXAMPLES) -> dict[str, Any]:
    """The three generators of the unit tests, ``examples`` each (valid, mutated, any JSON object)."""
    any_object = st.dictionaries(
        st.sampled_from([*REQUIRED, "hybrid", "deploymentModel", "x"]), json_values, max_size=6
    )
    generators: dict[str, st.SearchStrategy[Mutated]] = {
        "valid signups": valid_signups().map(Mutated),
        "mutated signups": mutations(),
        "any JSON object": any_object.map(Mutated),
    }
    runs = [_run(name, strategy, examples, valid=name == "valid signups") for name, strategy in generators.items()]
    totals = {key: sum(r[key] for r in runs) for key in ("examples", "accepted", "rejected", "violations", "crashes")}
    return {
        "examplesPerGenerator": examples,
        "runs": runs,
        **totals,
        "seconds": round(sum(r["seconds"] for r in runs), 2),
    }


def render_properties(report: dict[str, Any]) -> str:
    """The section's table, when it ran."""
    if "properties" not in report:
        return ""
    p = report["properties"]
    rows = [
        [r["generator"], *(r[k] for k in ("examples", "accepted", "rejected", "violations", "crashes")), r["seconds"]]
        for r in p["runs"]
    ]
    rows.append(["total", p["examples"], p["accepted"], p["rejected"], p["violations"], p["crashes"], p["seconds"]])
    lines = ["", "4. contract properties (hypothesis): accepted means schema-valid, rejections name their paths"]
    lines += [table(COLUMNS, rows)]
    lines += [f"   {f['kind']}: {f['error'].splitlines()[-1][:200]}" for r in p["runs"] for f in r["failures"]]
    return "\n" + "\n".join(lines)


def property_problems(report: dict[str, Any]) -> list[str]:
    """A property violation or a crash fails the run."""
    p = report.get("properties")
    if p is None:
        return []
    return [f"contract properties: {p[k]} {k}" for k in ("violations", "crashes") if p[k]]


if __name__ == "__main__":
    result = {"properties": measure_properties(int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_EXAMPLES)}
    print(render_properties(result))
    for problem in property_problems(result):
        print(f"FAIL: {problem}", file=sys.stderr)
    sys.exit(1 if property_problems(result) else 0)
