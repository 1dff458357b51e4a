"""`onboarding-local run`: files in order, the readable timeline, and the --json document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from onboarding.identity import derive_tenant_id
from onboarding_local.cli import main
from tests.conftest import signup_event

pytestmark = pytest.mark.pipeline


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_run_json_processes_files_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = write(tmp_path / "1.json", [signup_event("cli-1", "Order One"), signup_event("cli-2", "Order Two")])
    second = write(tmp_path / "2.json", signup_event("cli-3", "order one"))  # same name, after the first settled
    assert main(["run", str(first), str(second), "--workdir", str(tmp_path / "wd"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"executions", "tenants", "events", "gitops"}
    by_id = {t["tenantId"]: t for t in report["tenants"]}
    assert by_id[derive_tenant_id("cli-1")]["status"] == "ACTIVE"
    assert by_id[derive_tenant_id("cli-3")]["status"] == "FAILED"  # file 2 ran after file 1 finished
    execution = report["executions"][0]
    assert set(execution) == {"name", "status", "error", "cause", "durationMs", "states"}
    assert {"name", "status", "durationMs"} <= set(execution["states"][0])
    assert all(set(e) == {"source", "detail-type", "detail"} for e in report["events"])
    assert report["gitops"]["branch"] == "main" and len(report["gitops"]["head"]) == 40
    assert Path(report["gitops"]["remote"]).is_dir()  # the repository stays for inspection


def test_run_without_files_runs_the_demo_and_prints_a_timeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--workdir", str(tmp_path / "wd")]) == 0
    out = capsys.readouterr().out
    assert "RegisterTenant" in out and "SUCCEEDED" in out and "Tenant Signup Rejected" in out
    assert "gitops:" in out


def test_a_malformed_event_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.json", {"detail": {}})
    with pytest.raises(SystemExit, match="expected an EventBridge envelope"):
        main(["run", str(bad), "--workdir", str(tmp_path / "wd")])
