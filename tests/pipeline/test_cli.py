"""`onboarding-local run`: files in order, the readable timeline, and the --json document."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from onboarding.identity import derive_tenant_id
from onboarding_local import cli
from onboarding_local.cli import main, run
from tests.conftest import signup_event
from tests.utils.paths import tenant_file
from tests.utils.served import SERVED_CHART_VERSION, Served, chart_dir_at

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


# the demo runs once (about 30 s) for the tests that read it, which share an xdist worker for that
ONE_DEMO = pytest.mark.xdist_group("cli_demo")
# the tests of the one serve they share with test_cli_operator and test_graph (tests/utils/served.py)
SERVE = pytest.mark.xdist_group("serve")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`onboarding-local run` with no files (the demo, as `make demo` runs it): its work dir and its output."""
    workdir = tmp_path_factory.mktemp("demo") / "wd"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["run", "--workdir", str(workdir)]) == 0
    return workdir, out.getvalue()


@ONE_DEMO
def test_run_without_files_runs_the_demo_and_prints_a_timeline(demo: tuple[Path, str]) -> None:
    _, out = demo
    assert "RegisterTenant" in out and "SUCCEEDED" in out and "Tenant Signup Rejected" in out
    assert "gitops:" in out


def test_a_malformed_event_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.json", {"detail": {}})
    with pytest.raises(SystemExit, match="expected an EventBridge envelope"):
        main(["run", str(bad), "--workdir", str(tmp_path / "wd")])


@SERVE
def test_serve_answers_the_aws_api_until_terminated(served: Served) -> None:
    # (terminating it ends with exit code 0: checked when the shared serve stops, tests/utils/served.py)
    sfn, arn, status = served.onboard("serve-1", "Served Co")
    assert status == "SUCCEEDED"
    machine = next(line.split()[2] for line in served.lines if line.startswith("state machine"))
    assert arn.startswith(machine.replace(":stateMachine:", ":execution:"))  # the machine serve printed
    history = sfn.get_execution_history(executionArn=arn)["events"]
    assert any(e.get("stateEnteredEventDetails", {}).get("name") == "CommitGitOps" for e in history)


def test_tenants_lists_status_at_a_glance_and_one_tenants_timeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.utils.operations import request

    tenant_id = derive_tenant_id("cli-t1")
    write(tmp_path / "1.json", signup_event("cli-t1", "Listed Tenant"))
    write(tmp_path / "2.json", request("suspend", tenant_id, "cli-suspend"))
    workdir = tmp_path / "wd"
    assert main(["run", str(tmp_path / "1.json"), str(tmp_path / "2.json"), "--workdir", str(workdir)]) == 0
    capsys.readouterr()
    assert main(["tenants", "--workdir", str(workdir)]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split()[:4] == ["TENANT", "STATUS", "TIER", "MODEL"]
    assert (
        listing[1].split()[:4] == [tenant_id, "SUSPENDED", "basic", "pooled"] and "suspend -> SUSPENDED" in listing[1]
    )
    assert main(["tenants", tenant_id, "--workdir", str(workdir)]) == 0
    timeline = capsys.readouterr().out
    assert "status SUSPENDED" in timeline
    assert [line.split()[1:3] for line in timeline.splitlines() if line.startswith("    ")] == [
        ["onboard", "ONBOARDING"],
        ["onboard", "ACTIVE"],
        ["suspend", "SUSPENDED"],
    ]
    assert main(["tenants", "--workdir", str(workdir), "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["tenantId"] == tenant_id and record["history"][-1]["operation"] == "suspend"
    assert main(["tenants", "t-nobody-0000000000", "--workdir", str(workdir)]) == 1


def test_run_charts_publishes_that_directorys_charts_and_the_pipeline_pins_their_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess

    import yaml

    signup = write(tmp_path / "1.json", signup_event("cli-charts", "Chart Author"))
    args = ["run", str(signup), "--workdir", str(tmp_path / "wd"), "--json"]
    assert main([*args, "--charts", str(chart_dir_at(tmp_path, "1.0.7"))]) == 0
    report = json.loads(capsys.readouterr().out)
    (tenant,) = report["tenants"]
    assert tenant["status"] == "ACTIVE" and tenant["chartVersion"] == "1.0.7"
    text = subprocess.run(
        ["git", "-C", report["gitops"]["remote"], "show", f"main:{tenant_file(tenant['tenantId'])}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (release,) = yaml.safe_load_all(text)
    assert release["spec"]["chart"]["spec"]["version"] == "1.0.7"


def test_run_workers_runs_the_handlers_in_worker_processes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    events = write(tmp_path / "burst.json", [signup_event(f"cli-w{i}", f"Workers {i}") for i in range(2)])
    seen: dict[str, int] = {}

    def count(_: int, stack: Any) -> None:  # what ran where, once the file settled
        seen["invocations"] = len(stack.runtime.invocations)
        seen["in_workers"] = stack.runtime._pool.answered

    def observed(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return run(*args, **{**kwargs, "after_each": count})

    monkeypatch.setattr(cli, "run", observed)

    assert main(["run", str(events), "--workdir", str(tmp_path / "wd"), "--workers", "1", "--json"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert {t["tenantId"]: t["status"] for t in report["tenants"]} == {
        derive_tenant_id("cli-w0"): "ACTIVE",
        derive_tenant_id("cli-w1"): "ACTIVE",
    }
    assert seen["invocations"] > 0 and seen["in_workers"] == seen["invocations"]  # none ran in this process


@pytest.mark.parametrize("workers", ["-1", "17", "two"])
def test_workers_out_of_range_is_a_usage_error_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], workers: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--workdir", str(tmp_path / "wd"), "--workers", workers])
    assert exited.value.code == 2 and "--workers" in capsys.readouterr().err
    assert not (tmp_path / "wd").exists()  # nothing was started


def test_charts_without_a_chart_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exited:
        main(["run", "--workdir", str(tmp_path / "wd"), "--charts", str(tmp_path / "empty")])
    assert exited.value.code == 2 and "no chart under it" in capsys.readouterr().err


@pytest.mark.skipif(
    "FluxReceiverFunction" not in (Path(__file__).resolve().parents[2] / "template.yaml").read_text(encoding="utf-8"),
    reason="receiver not built yet",
)
@SERVE
def test_serve_prints_the_flux_receiver_and_a_curl_it_accepts(served: Served) -> None:
    import subprocess

    import boto3
    import requests

    lines = served.lines
    receiver = next(line for line in lines if "receiver" in line).split()[2]
    assert receiver.startswith("http://127.0.0.1:")
    assert any(line.startswith("charts") and f"tenant {SERVED_CHART_VERSION}" in line for line in lines)
    secrets = boto3.client("secretsmanager", **served.aws())
    token = secrets.get_secret_value(SecretId="FluxReceiverTokenSecret")["SecretString"]
    assert len(token) == 48 and token.isalnum()
    # the printed example, as a user pastes it (with the token the printed aws command reads)
    example = [line.strip() for line in lines if line.strip().startswith(("body=", "curl "))]
    shell = subprocess.run(
        ["bash", "-c", "\n".join(example)], env={"token": token, "PATH": "/usr/bin:/bin"}, capture_output=True,
        text=True, timeout=30,
    )  # fmt: skip
    assert json.loads(shell.stdout)["accepted"] is True, shell.stderr
    forged = requests.post(receiver, data=b"{}", headers={"X-Signature": "sha256=" + "0" * 64}, timeout=30)
    assert forged.status_code in (401, 403)


# ------------------------------------------------------------------ fleet releases


def test_the_demo_release_names_the_version_the_demo_publishes(tmp_path: Path) -> None:
    """events/release-1.1.0.json asks for charts/tenant's next version (the demo's bump rule), the last demo file."""
    import types

    import yaml

    from onboarding_local.cli import DEMO_FILES, DEMO_RELEASE
    from onboarding_local.releases_view import bumped_chart, chart_version, next_version, publish_demo_release
    from tests.conftest import REPO

    assert [next_version(v) for v in ("1.0.0", "1.4.2", "2.0.0-rc.1", "0.9.9+build.7")] == [
        "1.1.0", "1.5.0", "2.1.0", "0.10.0",
    ]  # fmt: skip
    chart = REPO / "charts" / "tenant"
    bumped = next_version(chart_version(chart))
    release = json.loads((REPO / "events" / DEMO_RELEASE).read_text(encoding="utf-8"))
    assert release["detail-type"] == "Fleet Release Requested" and release["source"] == "saas.release"
    assert release["detail"]["chartVersion"] == bumped, f"events/{DEMO_RELEASE} must ask for {bumped}"
    assert f"release-{bumped}.json" == DEMO_RELEASE == DEMO_FILES[-1]
    assert release["detail"]["releaseId"] == f"demo-release-{bumped}"
    assert [w["name"] for w in release["detail"]["waves"]] == ["canary", "everyone"]
    # the copy differs from charts/tenant by its version only
    root, version = bumped_chart(chart, tmp_path / "demo-charts")
    copy = yaml.safe_load((root / "tenant" / "Chart.yaml").read_text(encoding="utf-8"))
    assert version == bumped == copy["version"]
    assert copy == {**yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8")), "version": bumped}
    assert (root / "tenant" / "values.yaml").read_bytes() == (chart / "values.yaml").read_bytes()
    # a release file out of step with the rule is a clear error before anything is published
    stale = write(tmp_path / DEMO_RELEASE, {**release, "detail": {**release["detail"], "chartVersion": "9.9.9"}})
    hook = publish_demo_release([stale], DEMO_RELEASE, print)
    with pytest.raises(SystemExit, match=f"asks for chart 9.9.9.*next version {bumped}"):
        hook(0, types.SimpleNamespace(workdir=tmp_path / "wd"))  # type: ignore[arg-type]


@ONE_DEMO
def test_the_demo_ends_with_a_release_in_two_waves_and_releases_shows_it(
    demo: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from onboarding_local.releases_view import chart_version, next_version
    from tests.conftest import REPO

    old = chart_version(REPO / "charts" / "tenant")
    new = next_version(old)
    workdir, out = demo
    published = [line for line in out.splitlines() if line.startswith("published chart")]
    assert [line.split()[2:4] for line in published] == [["tenant", old], ["tenant", new]]
    assert all(line.split()[5].startswith("oci://127.0.0.1:") for line in published)
    assert (workdir / "demo-charts" / "tenant" / "Chart.yaml").is_file()
    assert f"Fleet Release Started           demo-release-{new}  chart {new}, waves canary (2), everyone (2)" in out
    assert f"Fleet Release Wave Completed    demo-release-{new}  wave canary: 2 succeeded, 0 failed" in out
    assert f"Fleet Release Completed         demo-release-{new}  chart {new} on 4 tenants" in out
    table = out[out.index("tenants:\n") : out.index("events:\n")].splitlines()[1:]
    assert table[0].split()[:6] == ["TENANT", "STATUS", "TIER", "MODEL", "CHART", "GIT"]
    assert sorted(line.split()[4] for line in table[1:]) == [new] * 4  # every live tenant, the suspended one too
    # the tenants listing (fleet_view's table) has the chart column too
    assert main(["tenants", "--workdir", str(workdir)]) == 0
    assert [line.split()[4] for line in capsys.readouterr().out.splitlines()] == ["CHART", new, new, new, new]

    assert main(["releases", "--workdir", str(workdir)]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[:6] == ["RELEASE", "STATUS", "CHART", "FROM", "OK", "FAILED"]
    assert row.split() == [f"demo-release-{new}", "COMPLETED", new, old, "4", "0", "canary", "(2),", "everyone", "(2)"]
    assert main(["releases", f"demo-release-{new}", "--workdir", str(workdir)]) == 0
    timeline = capsys.readouterr().out
    assert f"chart {old} -> {new}" in timeline and "0 canary: 2 tenants" in timeline
    assert "1 everyone: 2 tenants" in timeline and "rolled back -" in timeline
    assert main(["releases", "--workdir", str(workdir), "--json"]) == 0
    (release,) = json.loads(capsys.readouterr().out)
    assert release["status"] == "COMPLETED" and release["chartVersion"] == new
    canary, everyone = release["waves"]
    assert canary["name"] == "canary" and len(canary["members"]) == len(canary["succeeded"]) == 2
    assert len(everyone["commit"]) == 40 and everyone["failed"] == [] and everyone["deferred"] == []
    assert main(["releases", f"demo-release-{new}", "--workdir", str(workdir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == release
    assert main(["releases", "nope", "--workdir", str(workdir)]) == 1


def test_releases_shows_a_halted_wave_with_flux_s_reason_and_what_was_rolled_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from onboarding_local.charts import publish_charts
    from onboarding_local.cli import run

    first, second = derive_tenant_id("cli-rel-1"), derive_tenant_id("cli-rel-2")
    files = [
        write(tmp_path / "1.json", [signup_event("cli-rel-1", "Rel One"), signup_event("cli-rel-2", "Rel Two")]),
        write(tmp_path / "2.json", {"source": "saas.release", "detail-type": "Fleet Release Requested", "detail": {
            "releaseId": "cli-rel-1", "chartVersion": "1.7.0",
            "waves": [{"name": "canary", "tenantIds": [first]}, {"name": "rest"}]}}),
    ]  # fmt: skip

    def publish_and_fail_the_canary(index: int, stack: Any) -> None:
        if index == 1:
            publish_charts(chart_dir_at(tmp_path, "1.7.0"), stack.release_registry.host, stack.workdir)
            stack.flux.fail_next(first, "UpgradeFailed", "Helm upgrade failed: exceeded quota")

    workdir = tmp_path / "wd"
    run(files, workdir, 180, before_each=publish_and_fail_the_canary)
    assert main(["releases", "--workdir", str(workdir)]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[:6] == ["cli-rel-1", "HALTED", "1.7.0", row[3], "0", "1"] and row[3] != "1.7.0"
    assert main(["releases", "cli-rel-1", "--workdir", str(workdir)]) == 0
    timeline = capsys.readouterr().out
    assert "cli-rel-1  HALTED" in timeline and f"rolled back {first}" in timeline
    assert f"{first}: " in timeline and "exceeded quota" in timeline
    assert "1 rest: 1 tenants\n        not started" in timeline  # the next wave never started
    assert main(["releases", "cli-rel-1", "--workdir", str(workdir), "--json"]) == 0
    canary, rest = json.loads(capsys.readouterr().out)["waves"]
    assert [f["tenantId"] for f in canary["failed"]] == [first] and canary["rolledBack"] == [first]
    assert rest["members"] == [second] and "commit" not in rest and rest["succeeded"] == []
    assert main(["tenants", second, "--workdir", str(workdir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["chartVersion"] != "1.7.0"
