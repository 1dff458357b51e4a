"""One execution's path through its state machine, from its history (GetExecutionHistory), as the console's
graph inspector shows it: which states ran, how long, how often, which failed and which error a Catch caught,
and which transitions were taken.

The history's events name the state they enter or leave; a task's own events (scheduled, failed, succeeded)
point back through ``previousEventId`` to the state they belong to; a state's entry points back to the exit it
followed, which is the transition taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

START, END = "(start)", "(end)"  # the pseudo-states of the graph's Start and End circles
STATUS_RANK = {"succeeded": 0, "running": 1, "caught": 2, "failed": 3}  # the worst visit marks the state


@dataclass
class StateRun:
    """Every visit of one state in one execution (a Map's iterator states: every iteration)."""

    name: str
    visits: int = 0
    duration_ms: float = 0.0
    attempts: int = 0  # task invocations, retries included
    status: str = "succeeded"  # succeeded | running | caught (an error a Catch routed on) | failed
    error: str | None = None

    def mark(self, status: str, error: str | None = None) -> None:
        if STATUS_RANK[status] >= STATUS_RANK[self.status]:
            self.status = status
            self.error = error or self.error


@dataclass
class ExecutionPath:
    name: str
    machine: str
    status: str  # the execution's: RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    duration_ms: float
    error: str | None = None
    cause: str | None = None
    states: dict[str, StateRun] = field(default_factory=dict)
    transitions: set[tuple[str, str]] = field(default_factory=set)  # (from, to), START and END included


def _when(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})


def _is_failure(kind: str) -> bool:
    return kind.endswith(("Failed", "TimedOut")) and not kind.startswith(("Execution", "Map", "Parallel"))


def execution_path(execution: dict[str, Any], history: list[dict[str, Any]]) -> ExecutionPath:
    """``execution`` as DescribeExecution answers it, ``history`` as GetExecutionHistory's ``events``."""
    by_id = {int(ev["id"]): ev for ev in history}
    owner: dict[int, str] = {}  # event id -> the state it belongs to (task events chain back to the entry)
    open_visits: dict[str, list[datetime]] = {}
    last_task_failure: dict[str, str | None] = {}
    stop = _when(execution.get("stopDate") or (history[-1]["timestamp"] if history else execution["startDate"]))
    path = ExecutionPath(
        name=execution["name"],
        machine=str(execution["stateMachineArn"]).rsplit(":", 1)[-1],
        status=execution["status"],
        duration_ms=(stop - _when(execution["startDate"])).total_seconds() * 1000,
        error=execution.get("error"),
        cause=execution.get("cause"),
    )
    for ev in history:
        kind, ev_id, prev = ev["type"], int(ev["id"]), int(ev.get("previousEventId") or 0)
        at = _when(ev["timestamp"])
        if kind.endswith("StateEntered"):
            name = _details(ev)["name"]
            run = path.states.setdefault(name, StateRun(name))
            run.visits += 1
            open_visits.setdefault(name, []).append(at)
            owner[ev_id] = name
            last_task_failure[name] = None
            before = by_id.get(prev)
            if before is None or before["type"] == "ExecutionStarted":
                path.transitions.add((START, name))
            elif before["type"].endswith("StateExited") or before["type"] == "MapIterationStarted":
                path.transitions.add((_details(before)["name"], name))
            elif before["type"] == "ParallelStateStarted" and prev in owner:
                path.transitions.add((owner[prev], name))
            if kind == "FailStateEntered":
                run.mark("failed", path.error)
                path.transitions.add((name, END))
        elif kind.endswith("StateExited"):
            name = _details(ev)["name"]
            starts = open_visits.get(name) or [at]
            path.states[name].duration_ms += (at - starts.pop(0)).total_seconds() * 1000
            if last_task_failure.get(name):
                path.states[name].mark("caught", last_task_failure[name])
        elif prev in owner and not kind.startswith(("Map", "Parallel")):
            name = owner[ev_id] = owner[prev]
            if kind.endswith("Scheduled"):
                path.states[name].attempts += 1
                last_task_failure[name] = None
            elif _is_failure(kind):
                last_task_failure[name] = _details(ev).get("error") or kind
        elif kind in ("MapStateStarted", "ParallelStateStarted") and prev in owner:
            owner[ev_id] = owner[prev]
        elif kind == "ExecutionSucceeded" and prev in by_id and by_id[prev]["type"].endswith("StateExited"):
            path.transitions.add((_details(by_id[prev])["name"], END))
    for name, starts in open_visits.items():  # still in the state when the history ends
        run = path.states[name]
        for started in starts:
            run.duration_ms += (stop - started).total_seconds() * 1000
            if path.status == "RUNNING":
                run.mark("running")
            else:  # the execution stopped in this state: the error no Catch handled
                run.mark("failed", last_task_failure.get(name) or path.error)
    return path


def fmt_ms(ms: float) -> str:
    """A duration as the console shows it: 12 ms, 1.23 s, 2 min 05 s."""
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes} min {seconds:02d} s"
