"""One `onboarding-local serve` for every test that reads a live serve (test_cli, test_cli_operator, test_graph).

A serve is a process of its own with a whole local stack: about 6 s of CPU to start, run and stop. The tests
that only talk to one (its banner, the AWS API, the Flux receiver, the AWS CLI, `tenants`, `graph`) share this
one; each marks itself ``xdist_group("serve")`` so that one worker starts it. It is started the way the tests
need it: in a work dir an earlier `run` used (serve starts its own stack empty), with a chart directory at
another version (``--charts``). What it held when its banner was printed is kept in ``initial``, before any test
talked to it; terminating it must end with exit code 0.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "onboarding_local.cli"]
BEFORE_SERVE = "op-before-serve"  # the signup of the `run` that used the work dir before serve
SERVED_CHART_VERSION = "2.0.0"  # serve's --charts directory holds charts/tenant at this version


def cli_env() -> dict[str, str]:
    """The environment of a CLI subprocess: this checkout's packages, no AWS settings of this process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env["PYTHONPATH"] = os.pathsep.join(str(REPO / p) for p in ("layers/shared", "local", "."))
    return env


def chart_dir_at(tmp_path: Path, version: str) -> Path:
    """A copy of charts/tenant at another version, as a chart author would try it before publishing."""
    charts = tmp_path / "my-charts"
    shutil.copytree(REPO / "charts" / "tenant", charts / "tenant")
    meta = yaml.safe_load((charts / "tenant" / "Chart.yaml").read_text(encoding="utf-8"))
    (charts / "tenant" / "Chart.yaml").write_text(yaml.safe_dump({**meta, "version": version}), encoding="utf-8")
    return charts


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@dataclass
class Served:
    proc: subprocess.Popen[str]
    lines: list[str]  # the banner, without line ends
    workdir: Path
    tmp: Path
    initial: dict[str, list[str]] = field(default_factory=dict)  # git "log" and "files" when the banner was out

    @property
    def endpoint(self) -> str:
        return next(line.split()[2] for line in self.lines if line.startswith("AWS endpoint"))

    def onboard(self, signup_id: str, name: str, seconds: float = 60) -> tuple[Any, str, str]:
        """Put a signup on the served bus and wait for its onboarding execution to succeed:
        (a Step Functions client of the serve, the execution's ARN, its last status)."""
        import boto3

        from onboarding.identity import derive_tenant_id
        from tests.conftest import signup_event

        detail = signup_event(signup_id, name)["detail"]
        entry = {"Source": "saas.signup", "DetailType": "Tenant Signup Requested", "Detail": json.dumps(detail)}
        events: Any = boto3.client("events", **self.aws())
        events.put_events(Entries=[entry])
        sfn: Any = boto3.client("stepfunctions", **self.aws())
        arn = f"arn:aws:states:us-east-1:123456789012:execution:OnboardingStateMachine:{derive_tenant_id(signup_id)}"
        deadline, status = time.monotonic() + seconds, ""
        while time.monotonic() < deadline and status != "SUCCEEDED":
            time.sleep(0.1)
            try:
                status = sfn.describe_execution(executionArn=arn)["status"]
            except sfn.exceptions.ExecutionDoesNotExist:
                continue
        return sfn, arn, status

    def aws(self) -> dict[str, Any]:
        """boto3 client arguments for the served AWS API."""
        return {"endpoint_url": self.endpoint, "region_name": "us-east-1", "aws_access_key_id": "x",
                "aws_secret_access_key": "x"}  # fmt: skip


def serve(tmp: Path, banner: Any) -> Iterator[Served]:
    """Start serve in a work dir a `run` used, yield it, then terminate it and check it exited cleanly."""
    from tests.conftest import signup_event

    workdir = tmp / "wd"
    before = tmp / "before.json"
    before.write_text(json.dumps(signup_event(BEFORE_SERVE, "Before Serve")), encoding="utf-8")
    # a subprocess: a module of this worker may hold a local stack in-process (one per process)
    ran = subprocess.run([*CLI, "run", str(before), "--workdir", str(workdir), "--json"], env=cli_env(), cwd=tmp,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    charts = chart_dir_at(tmp, SERVED_CHART_VERSION)
    command = [*CLI, "serve", "--workdir", str(workdir), "--charts", str(charts)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=cli_env(), cwd=tmp)
    try:
        lines = [line.rstrip("\n") for line in banner(proc, 120)]
        repo = workdir / "git" / "gitops.git"
        initial = {
            "log": git(repo, "log", "--format=%s", "main").splitlines(),
            "files": git(repo, "ls-tree", "-r", "--name-only", "main").split(),
        }
        yield Served(proc=proc, lines=lines, workdir=workdir, tmp=tmp, initial=initial)
    finally:
        proc.terminate()  # it saves its state and stops the stack: as long as a start may take, under load
        code = proc.wait(timeout=90)
    assert code == 0, f"serve exited with {code} when terminated"
