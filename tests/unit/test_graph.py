"""`onboarding-local graph` without a stack: every state machine drawn from its ASL (SVG parsed back), PNG output,
Parallel branches as clusters, and an execution's path read from a history (retries, an uncaught error)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from onboarding_local.asl_drawing import draw
from onboarding_local.execution_path import END, START, execution_path
from onboarding_local.graph import asl_files, render

SVG = "{http://www.w3.org/2000/svg}"


def svg_elements(svg: bytes, kind: str) -> dict[str, dict[str, Any]]:
    """The SVG's nodes (``kind`` "node") or edges ("edge") by id: their classes and text lines."""
    found = {}
    for g in ET.fromstring(svg).iter(f"{SVG}g"):
        classes = (g.get("class") or "").split()
        if kind in classes:
            texts = [t.text or "" for t in g.iter(f"{SVG}text")]
            found[g.get("id") or ""] = {"classes": set(classes), "text": texts}
    return found


def clusters(svg: bytes) -> list[str]:
    """The cluster boxes' labels."""
    root = ET.fromstring(svg)
    return [
        " ".join(t.text or "" for t in g.iter(f"{SVG}text"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "cluster"
    ]


def states(block: dict[str, Any], scope: str = "") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(scope, name, state) of every state, nested ones too, with the scope graph.py draws them in."""
    for name, state in block["States"].items():
        yield scope, name, state
        inner = state.get("ItemProcessor") or state.get("Iterator")
        if inner:
            yield from states(inner, f"{scope}/{name}")
        for i, branch in enumerate(state.get("Branches", [])):
            yield from states(branch, f"{scope}/{name}[{i}]")


@pytest.fixture(scope="module")
def every_machine() -> bytes:
    svg: bytes = draw(asl_files()).pipe(format="svg")
    return svg


def test_the_three_state_machines_are_drawn(every_machine: bytes) -> None:
    assert set(asl_files()) == {"onboarding", "lifecycle", "release"}
    labels = clusters(every_machine)
    for machine in ("onboarding", "lifecycle", "release"):
        assert machine in labels


def test_every_state_and_every_transition_of_every_machine_is_drawn(every_machine: bytes) -> None:
    nodes, edges = svg_elements(every_machine, "node"), svg_elements(every_machine, "edge")
    for machine, definition in asl_files().items():
        assert f"{machine}/{START}" in nodes and f"{machine}/{END}" in nodes
        assert f"{machine}/{START} -> {machine}/{definition['StartAt']}" in edges
        for scope, name, state in states(definition):
            node = nodes[f"{machine}{scope}/{name}"]
            assert node["text"][0] == name and "not-run" in node["classes"]  # no execution: nothing highlighted
            tail = f"{machine}{scope}/{name}"
            if "Next" in state:
                assert f"{tail} -> {machine}{scope}/{state['Next']}" in edges
            for catcher in state.get("Catch", []):
                assert f"{tail} -> {machine}{scope}/{catcher['Next']} (catch)" in edges
            for rule in state.get("Choices", []):
                assert f"{tail} -> {machine}{scope}/{rule['Next']}" in edges
    assert not any("taken" in e["classes"] for e in edges.values())


def test_a_map_iterator_is_a_cluster_inside_its_state(every_machine: bytes) -> None:
    release = asl_files()["release"]
    (map_name,) = [name for name, state in release["States"].items() if state["Type"] == "Map"]
    assert f"{map_name} (Map)" in clusters(every_machine)
    iterator = release["States"][map_name].get("ItemProcessor") or release["States"][map_name]["Iterator"]
    edges = svg_elements(every_machine, "edge")
    assert f"release/{map_name} -> release/{map_name}/{iterator['StartAt']}" in edges


def test_a_parallel_state_draws_each_branch_as_a_cluster() -> None:
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
                    {"StartAt": "Right", "States": {"Right": {"Type": "Pass", "End": True}}},
                ],
                "End": True,
            }
        },
    }
    svg = draw({"fork": definition}).pipe(format="svg")
    assert {"Both (Parallel)", "branch 1", "branch 2"} <= set(clusters(svg))
    edges = svg_elements(svg, "edge")
    assert "fork/Both -> fork/Both[0]/Left" in edges and "fork/Both -> fork/Both[1]/Right" in edges


def test_the_out_suffix_picks_the_format(tmp_path: Path) -> None:
    graph = draw({"tiny": {"StartAt": "Only", "States": {"Only": {"Type": "Pass", "End": True}}}})
    assert render(graph, tmp_path / "g.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert render(graph, tmp_path / "g").name == "g.svg"  # no suffix: SVG
    ET.fromstring((tmp_path / "g.svg").read_bytes())
    with pytest.raises(SystemExit, match=r"suffix must be one of \.svg, \.png"):
        render(graph, tmp_path / "g.pdf")


# ------------------------------------------------------------------ a path from a history
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def history(*events: tuple[str, float, dict[str, Any]]) -> list[dict[str, Any]]:
    """Events in order, each (type, seconds after T0, details), chained by previousEventId as AWS chains them."""
    out = []
    for i, (kind, at, details) in enumerate(events, start=1):
        key = kind[0].lower() + kind[1:] + "EventDetails"
        out.append({"id": i, "previousEventId": i - 1, "type": kind, "timestamp": T0 + timedelta(seconds=at),
                    key: details})  # fmt: skip
    return out


def test_retries_are_counted_and_an_uncaught_error_marks_its_state_failed() -> None:
    events = history(
        ("ExecutionStarted", 0, {}),
        ("TaskStateEntered", 0, {"name": "Flaky"}),
        ("TaskScheduled", 0, {}),
        ("TaskFailed", 0.1, {"error": "TransientError"}),
        ("TaskScheduled", 0.3, {}),
        ("TaskSucceeded", 0.4, {}),
        ("TaskStateExited", 0.5, {"name": "Flaky"}),
        ("TaskStateEntered", 0.5, {"name": "Broken"}),
        ("TaskScheduled", 0.5, {}),
        ("TaskFailed", 0.75, {"error": "StorageError"}),
        ("ExecutionFailed", 0.75, {"error": "StorageError"}),
    )
    execution = {"name": "x", "stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:Demo", "status": "FAILED",
                 "startDate": T0, "stopDate": T0 + timedelta(seconds=0.75), "error": "StorageError"}  # fmt: skip
    path = execution_path(execution, events)
    flaky, broken = path.states["Flaky"], path.states["Broken"]
    assert (flaky.status, flaky.attempts, flaky.visits, round(flaky.duration_ms)) == ("succeeded", 2, 1, 500)
    assert (broken.status, broken.error, round(broken.duration_ms)) == ("failed", "StorageError", 250)
    assert path.transitions == {(START, "Flaky"), ("Flaky", "Broken")}
    flaky_state = {"Type": "Task", "Resource": "x", "Next": "Broken"}
    definition = {"StartAt": "Flaky", "States": {"Flaky": flaky_state, "Broken": {"Type": "Task", "End": True}}}
    nodes = svg_elements(draw({"Demo": definition}, path).pipe(format="svg"), "node")
    assert nodes["Demo/Flaky"]["text"] == ["Flaky", "500 ms · 2 attempts"]
    assert nodes["Demo/Broken"]["text"] == ["Broken", "250 ms", "✗ failed: StorageError"]
    assert "failed" in nodes["Demo/Broken"]["classes"] and "not-run" in nodes[f"Demo/{END}"]["classes"]


def test_a_running_execution_shows_the_state_it_waits_in_as_running() -> None:
    events = history(
        ("ExecutionStarted", 0, {}),
        ("TaskStateEntered", 0, {"name": "AwaitApproval"}),
        ("TaskScheduled", 0, {}),
        ("TaskSubmitted", 0.2, {}),
    )
    execution = {"name": "r", "stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:Demo", "status": "RUNNING",
                 "startDate": T0}  # fmt: skip
    path = execution_path(execution, events)
    waiting = path.states["AwaitApproval"]
    assert (waiting.status, waiting.attempts, round(waiting.duration_ms)) == ("running", 1, 200)
    definition = {"StartAt": "AwaitApproval", "States": {"AwaitApproval": {"Type": "Task", "End": True}}}
    nodes = svg_elements(draw({"Demo": definition}, path).pipe(format="svg"), "node")
    assert "running" in nodes["Demo/AwaitApproval"]["classes"] and "not-run" in nodes[f"Demo/{END}"]["classes"]
