"""`onboarding-local graph` on executions of the local stack: the path an onboarding took (and a failed one, its
caught error and failed state), a tenant's latest execution, a release's Map iterations, and the command itself."""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from onboarding.identity import derive_tenant_id
from onboarding_local.execution_path import END, START
from onboarding_local.graph import execution_graph, load_snapshot, save_executions, snapshot
from tests.conftest import REPO, signup_event
from tests.unit.test_graph import svg_elements
from tests.utils.served import Served

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("graph")]  # one worker builds the module's stack once
OK, FAILING = derive_tenant_id("graph-ok"), derive_tenant_id("graph-failing")
NEW_CHART, HALTED_CHART = "1.1.0", "1.2.0"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One stack: an onboarding that succeeds, one that fails (git down), a release that completes, one that
    halts, a suspend; then a snapshot."""
    from onboarding_local.charts import publish_charts
    from onboarding_local.stack import LocalStack

    tmp = tmp_path_factory.mktemp("graph")
    with LocalStack(tmp / "stack", parameters={"ReleasePollSeconds": "1"}) as stack:
        stack.put_events([signup_event("graph-ok", "Graph Ok")])
        stack.wait_idle(120)
        stack.git.stop()
        stack.put_events([signup_event("graph-failing", "Graph Failing")])
        stack.wait_idle(120)
        stack.git.start()
        for version in (NEW_CHART, HALTED_CHART):
            charts = tmp / "charts" / version / "tenant"
            shutil.copytree(REPO / "charts" / "tenant", charts)
            meta = yaml.safe_load((charts / "Chart.yaml").read_text(encoding="utf-8"))
            (charts / "Chart.yaml").write_text(yaml.safe_dump({**meta, "version": version}), encoding="utf-8")
            publish_charts(charts.parent, stack.release_registry.host, stack.workdir)
        stack.put_events([release("graph-rel", NEW_CHART)])
        stack.wait_idle(180)
        assert stack.flux is not None
        stack.flux.fail_next(OK, "UpgradeFailed", "injected by test_graph")  # the only wave fails: rolled back, halted
        stack.put_events([release("graph-rel-halted", HALTED_CHART)])
        stack.wait_idle(180)
        stack.put_events([suspend(OK)])
        stack.wait_idle(120)
        sfn = stack.client("stepfunctions")
        saved = save_executions(sfn, tmp)
        data = snapshot(sfn)
    yield {"snapshot": data, "saved": saved, "workdir": tmp}  # the stack stopped: one runs per process


def release(release_id: str, version: str) -> dict[str, Any]:
    return {"source": "saas.release", "detail-type": "Fleet Release Requested",
            "detail": {"releaseId": release_id, "chartVersion": version}}  # fmt: skip


def suspend(tenant_id: str) -> dict[str, Any]:
    return {"source": "saas.signup", "detail-type": "Tenant Suspend Requested",
            "detail": {"tenantId": tenant_id, "operationId": "graph-suspend"}}  # fmt: skip


def rendered(data: dict[str, Any], key: str) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """The SVG's nodes and edges for the execution ``key`` names, and its path."""
    graph, path = execution_graph(data, key)
    svg = graph.pipe(format="svg")
    return svg_elements(svg, "node"), svg_elements(svg, "edge"), path


def highlighted(nodes: dict[str, Any]) -> dict[str, str]:
    """State (by its drawn id, machine prefix dropped) -> the outcome it is filled with, for states that ran."""
    marks = ("succeeded", "caught", "failed", "running")
    return {
        node_id.split("/", 1)[1]: next(m for m in marks if m in node["classes"])
        for node_id, node in nodes.items()
        if "not-run" not in node["classes"]
    }


def test_a_successful_onboarding_is_highlighted_along_its_path_with_durations(runs: dict[str, Any]) -> None:
    # the onboarding execution is named after the tenant; its ARN names it alone (the tenant id names the latest)
    (arn,) = [e["execution"]["executionArn"] for e in runs["snapshot"]["executions"]
              if e["execution"]["name"] == OK]  # fmt: skip
    nodes, edges, path = rendered(runs["snapshot"], arn)
    assert path.status == "SUCCEEDED" and path.machine == "OnboardingStateMachine"
    ran = ["RegisterTenant", "ChooseDeploymentModel", "CommitGitOps", "AwaitReconcile", "ActivateTenant", "Onboarded"]
    assert highlighted(nodes) == {START: "succeeded", END: "succeeded", **dict.fromkeys(ran, "succeeded")}
    for state in ran:
        name, duration = nodes[f"OnboardingStateMachine/{state}"]["text"][:2]
        assert name == state and duration.endswith((" ms", " s"))
    taken = {e for e, edge in edges.items() if "taken" in edge["classes"]}
    chain = [START, *ran, END]
    assert taken == {f"OnboardingStateMachine/{a} -> OnboardingStateMachine/{b}" for a, b in itertools.pairwise(chain)}


def test_a_failed_onboarding_marks_the_caught_error_and_the_failed_state(runs: dict[str, Any]) -> None:
    nodes, edges, path = rendered(runs["snapshot"], FAILING)
    assert (path.status, path.error) == ("FAILED", "GitRemoteUnavailable")
    marks = highlighted(nodes)
    assert marks == {START: "succeeded", "RegisterTenant": "succeeded", "ChooseDeploymentModel": "succeeded",
                     "CommitGitOps": "caught", "CommitGitOps failed": "succeeded", "Compensate": "succeeded",
                     "RecordFailure": "succeeded", "OnboardingFailed": "failed", END: "succeeded"}  # fmt: skip
    assert nodes["OnboardingStateMachine/CommitGitOps"]["text"][2] == "caught: GitRemoteUnavailable"
    assert nodes["OnboardingStateMachine/OnboardingFailed"]["text"][2] == "✗ failed: GitRemoteUnavailable"
    # the Catch edge was taken, the Next was not; the states after CommitGitOps on the happy path did not run
    catch = "OnboardingStateMachine/CommitGitOps -> OnboardingStateMachine/CommitGitOps failed (catch)"
    assert "taken" in edges[catch]["classes"]
    assert (
        "taken" not in edges["OnboardingStateMachine/CommitGitOps -> OnboardingStateMachine/AwaitReconcile"]["classes"]
    )
    # Compensate has a Next and a Catch to RecordFailure: the Next was taken (Compensate succeeded)
    to_record = "OnboardingStateMachine/Compensate -> OnboardingStateMachine/RecordFailure"
    assert "taken" in edges[to_record]["classes"] and "taken" not in edges[f"{to_record} (catch)"]["classes"]


def test_a_tenant_id_names_the_tenant_s_latest_execution(runs: dict[str, Any]) -> None:
    nodes, _, path = rendered(runs["snapshot"], OK)
    assert path.machine == "LifecycleStateMachine" and path.status == "SUCCEEDED"
    assert {"StartOperation", "UpdateGitOps", "CompleteOperation"} <= set(highlighted(nodes))


def test_a_release_s_map_iterations_are_drawn_inside_its_cluster(runs: dict[str, Any]) -> None:
    nodes, edges, path = rendered(runs["snapshot"], "graph-rel")
    assert path.machine == "ReleaseStateMachine" and path.status == "SUCCEEDED"
    marks = highlighted(nodes)
    assert {"PlanRelease", "RolloutWaves", "RolloutWaves/CommitWave", "RolloutWaves/TallyWave",
            "CompleteRelease", "Released"} <= set(marks)  # fmt: skip
    assert set(marks.values()) == {"succeeded"}
    # a state of the iterator is visited once per wave (Map iteration); its waits are real (ReleasePollSeconds=1)
    (history,) = [e["history"] for e in runs["snapshot"]["executions"] if e["execution"]["name"] == path.name]
    waves = sum(1 for event in history if event["type"] == "MapIterationStarted")
    assert waves >= 1 and path.states["CommitWave"].visits == waves <= path.states["TallyWave"].visits
    wait = nodes["ReleaseStateMachine/RolloutWaves/WaitForVerdicts"]["text"][1]
    assert wait.split()[1] == "s" and float(wait.split()[0]) >= 1.0  # "1.01 s", or "2.02 s · 2 visits"
    each_item = [
        e for e in edges if e.startswith("ReleaseStateMachine/RolloutWaves -> ReleaseStateMachine/RolloutWaves/")
    ]
    assert len(each_item) == 1 and "taken" in edges[each_item[0]]["classes"]


def test_a_halted_release_marks_the_map_caught_and_its_fail_state_failed(runs: dict[str, Any]) -> None:
    nodes, edges, path = rendered(runs["snapshot"], "graph-rel-halted")
    assert (path.status, path.error) == ("FAILED", "ReleaseHalted")
    marks = highlighted(nodes)
    # the iteration ended in its Fail state; the Map failed with that error, and its Catch went to Stopped
    assert marks["RolloutWaves/Halted"] == marks["Stopped"] == "failed"
    assert marks["RolloutWaves"] == "caught" and marks["RolloutWaves/RollbackWave"] == "succeeded"
    assert "RolloutWaves/FinishWave" not in marks and "CompleteRelease" not in marks
    assert nodes["ReleaseStateMachine/RolloutWaves/Halted"]["text"][-1] == "✗ failed: ReleaseHalted"
    assert "taken" in edges["ReleaseStateMachine/RolloutWaves -> ReleaseStateMachine/Stopped (catch)"]["classes"]


def test_the_saved_executions_draw_the_same_path_as_the_live_stack(runs: dict[str, Any]) -> None:
    saved = load_snapshot(runs["workdir"])  # no serve there: executions.json
    assert json.loads(runs["saved"].read_text(encoding="utf-8")) == saved
    for key in (FAILING, OK, "graph-rel", "graph-rel-halted"):
        live_nodes, live_edges, live_path = rendered(runs["snapshot"], key)
        nodes, edges, path = rendered(saved, key)
        assert (path.name, highlighted(nodes)) == (live_path.name, highlighted(live_nodes))
        assert {e for e, v in edges.items() if "taken" in v["classes"]} == {
            e for e, v in live_edges.items() if "taken" in v["classes"]
        }


def test_an_unknown_execution_is_a_lookup_error(runs: dict[str, Any]) -> None:
    with pytest.raises(LookupError):
        execution_graph(runs["snapshot"], "t-nobody-0123456789")


# ------------------------------------------------------------------ the command
def test_graph_after_run_draws_a_tenant_s_execution_and_every_machine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from onboarding_local.cli import main

    events = tmp_path / "events.json"
    events.write_text(json.dumps([signup_event("graph-cli", "Graph Cli")]), encoding="utf-8")
    workdir = tmp_path / "wd"
    assert main(["run", str(events), "--workdir", str(workdir), "--json"]) == 0
    capsys.readouterr()
    tenant = derive_tenant_id("graph-cli")
    out = tmp_path / "out" / "tenant.svg"
    assert main(["graph", tenant, "--workdir", str(workdir), "--out", str(out)]) == 0
    assert f"OnboardingStateMachine {tenant}: SUCCEEDED" in capsys.readouterr().out
    nodes = svg_elements(out.read_bytes(), "node")
    assert highlighted(nodes)["ActivateTenant"] == "succeeded"
    assert main(["graph", "--out", str(tmp_path / "all")]) == 0  # no suffix: SVG
    drawn = svg_elements((tmp_path / "all.svg").read_bytes(), "node")
    assert {"onboarding/RegisterTenant", "lifecycle/StartOperation", "release/PlanRelease"} <= set(drawn)
    assert main(["graph", "t-nobody-0123456789", "--workdir", str(workdir)]) == 1


@pytest.mark.xdist_group("serve")  # the one serve it shares with test_cli and test_cli_operator (tests/utils/served.py)
def test_graph_reads_a_running_serve_in_its_workdir(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from onboarding_local import graph

    workdir = served.workdir
    assert (workdir / "endpoint").read_text(encoding="utf-8").strip() == served.endpoint  # what graph reads
    _, _, status = served.onboard("graph-served", "Graph Served")
    assert status == "SUCCEEDED"
    tenant = derive_tenant_id("graph-served")
    saved = workdir / "executions.json"  # the earlier run's, in the shared serve's work dir
    before = saved.stat().st_mtime_ns if saved.exists() else None
    parser = argparse.ArgumentParser()
    graph.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "served.svg"
    args = parser.parse_args(["graph", tenant, "--workdir", str(workdir), "--out", str(out)])
    assert graph.run(args) == 0
    assert f"OnboardingStateMachine {tenant}: SUCCEEDED" in capsys.readouterr().out
    assert highlighted(svg_elements(out.read_bytes(), "node"))["ActivateTenant"] == "succeeded"
    assert (saved.stat().st_mtime_ns if saved.exists() else None) == before  # read live, nothing saved by graph
