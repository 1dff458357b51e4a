"""What a function's cold start builds: only the contract, payloads and libraries that function uses.

Each function's ``app.py`` is imported in a fresh interpreter, as Lambda's init does, and the modules it
loaded are compared with what it speaks. A module that comes back here costs every cold start of that
function (docs/benchmarks.md measures how much); the timing itself lives in ``make bench``, not here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ("compensate", "gitops", "hybrid", "lifecycle", "reconcile", "release", "remote", "sbt", "signup")
WATCHED = (
    "onboarding.contract.catalog",
    "onboarding.contract.lifecycle",
    "onboarding.contract.release",
    "onboarding.contract.sbt",
    "onboarding.contract.signup",
    "onboarding.lifecycle_payloads",
    "yaml",
    *(f"onboarding.settings.{area}" for area in SETTINGS),
)
SIGNUP = "onboarding.contract.signup"  # the tenant record's: every function here reads tenant records
# What each function loads of WATCHED at its import, and no more. One function of each kind: the signup and
# onboarding steps, a step that writes GitOps, the lifecycle steps, the release steps, SBT's intake.
EXPECTED = {
    "intake": {SIGNUP, "onboarding.settings.signup"},
    "register_tenant": {SIGNUP, "onboarding.settings.hybrid"},
    "record_failure": {SIGNUP},
    "commit_gitops": {SIGNUP, "onboarding.settings.gitops"},
    "create_hybrid_activation": {SIGNUP, "onboarding.settings.hybrid"},
    "fail_operation": {
        SIGNUP,
        "onboarding.contract.lifecycle",
        "onboarding.lifecycle_payloads",
        "onboarding.settings.lifecycle",
    },
    "finish_wave": {SIGNUP, "onboarding.contract.release", "onboarding.settings.release"},
    "fail_release": {SIGNUP, "onboarding.contract.release", "onboarding.settings.release"},
    "sbt_intake": {SIGNUP, "onboarding.contract.lifecycle", "onboarding.contract.sbt", "onboarding.settings.sbt"},
}
# One interpreter loads what every function imports first (Powertools with the Tracer on, the parser, boto3),
# then forks once per function: each child starts from that state, as a fresh interpreter would reach it, and
# imports the function's app.py. Forking spares each function its own interpreter start (about 1 s of CPU).
PROBE = """
import importlib.util, json, os, sys
import boto3, aws_lambda_powertools.utilities.parser, onboarding.observability
assert not [m for m in sys.modules if m.startswith(("onboarding.contract.", "onboarding.settings"))], "probe's base"
for function in sys.argv[1:]:
    read, write = os.pipe()
    sys.stdout.flush()  # a child must not print what the parent buffered
    if os.fork() == 0:
        try:
            spec = importlib.util.spec_from_file_location("app", f"functions/{function}/app.py")
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
            os.write(write, json.dumps(sorted(sys.modules)).encode())
        except BaseException:
            import traceback
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(1)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        loaded = answer.read()
    _, status = os.wait()
    print(json.dumps({"function": function, "status": status, "modules": json.loads(loaded or b"[]")}))
"""


@pytest.fixture(scope="module")
def loaded() -> dict[str, set[str]]:
    """The watched modules in ``sys.modules`` after each function's app.py was imported (see PROBE)."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "layers" / "shared"), "AWS_DEFAULT_REGION": "us-east-1"}
    env |= {"LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "probe"}  # tracing on, as on AWS
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *sorted(EXPECTED)], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["status"] for a in answers] == [0] * len(EXPECTED), result.stderr
    return {a["function"]: set(a["modules"]) & set(WATCHED) for a in answers}


@pytest.mark.parametrize("function", sorted(EXPECTED))
def test_a_cold_start_loads_only_the_contract_and_libraries_its_function_uses(
    function: str, loaded: dict[str, set[str]]
) -> None:
    assert loaded[function] == EXPECTED[function]


def test_the_contract_package_loads_none_of_its_modules() -> None:
    code = "import json, sys, onboarding.contract; print(json.dumps(sorted(sys.modules)))"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "layers" / "shared")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert not [m for m in json.loads(out.stdout) if m.startswith("onboarding.contract.")]
