"""What ``onboarding-local run`` shows while it works: the file being processed, executions running, succeeded
and failed, and tenants by status.

On a terminal it is a ``rich`` live display. When stdout is not a terminal (a pipe, a file, CI) it degrades to
plain lines: one when a file's events are put, one per execution as it settles, one when the file has settled.
With ``--json`` nothing goes to stdout: the display goes to stderr when stderr is a terminal, else nowhere.

A poller thread reads the stack through the AWS API (Step Functions' executions, the tenants table) with
clients made before it starts, and stops before the stack does.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from onboarding_local.stack import LocalStack

SETTLED_OK = {"SUCCEEDED"}
SETTLED_FAILED = {"FAILED", "TIMED_OUT", "ABORTED"}
POLL_SECONDS = 0.5


class RunProgress:
    """No output at all, and no polling; the base of the two displays (what ``--json`` gets without a terminal)."""

    polls = False  # the displays poll the stack; showing nothing costs the run nothing

    def __init__(self) -> None:
        self.total = 0
        self.index = -1
        self.file: Path | None = None
        self.executions: dict[str, dict[str, Any]] = {}  # arn -> summary (name, status, startDate, stopDate)
        self.tenants: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ driven by run()
    def start(self, stack: LocalStack, total_files: int) -> None:
        self.total = total_files
        self._sfn = stack.client("stepfunctions")  # made here: creating clients is not thread-safe
        self._ddb = stack.client("dynamodb")
        self._table = stack.template.ref("TenantsTable")
        if not self.polls:
            return
        self._thread = threading.Thread(target=self._poll_loop, name="run-progress", daemon=True)
        self._thread.start()

    def file_started(self, index: int, path: Path, events: int) -> None:
        with self._lock:
            self.index, self.file = index, path
        self.on_file(index, path, events)

    def file_settled(self, index: int) -> None:
        if self.polls:
            self.poll()  # what settled is counted before the summary
        self.on_settled(index)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.close()

    # ------------------------------------------------------------------ polling
    def _poll_loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            with contextlib.suppress(Exception):  # a display never fails the run; the next poll tries again
                self.poll()

    def poll(self) -> None:
        settled: list[dict[str, Any]] = []
        found: dict[str, dict[str, Any]] = {}
        for machine in self._sfn.list_state_machines()["stateMachines"]:
            pages = self._sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"])
            for page in pages:
                for execution in page["executions"]:
                    found[execution["executionArn"]] = execution
        statuses: Counter[str] = Counter()
        kwargs: dict[str, Any] = {"TableName": self._table, "ProjectionExpression": "#s", "ConsistentRead": True}
        kwargs["ExpressionAttributeNames"] = {"#s": "status"}
        while True:
            page = self._ddb.scan(**kwargs)
            statuses.update(item["status"]["S"] for item in page["Items"] if "status" in item)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        with self._lock:
            for arn, execution in found.items():
                before = self.executions.get(arn)
                if execution["status"] != "RUNNING" and (before is None or before["status"] == "RUNNING"):
                    settled.append(execution)
            self.executions, self.tenants = found, statuses
        for execution in sorted(settled, key=lambda e: e.get("stopDate") or e["startDate"]):
            self.on_execution(execution)

    def counts(self) -> dict[str, int]:
        with self._lock:
            statuses = Counter(e["status"] for e in self.executions.values())
        return {
            "running": statuses["RUNNING"],
            "succeeded": sum(statuses[s] for s in SETTLED_OK),
            "failed": sum(statuses[s] for s in SETTLED_FAILED),
        }

    def tenant_summary(self) -> str:
        with self._lock:
            return "  ".join(f"{status} {n}" for status, n in sorted(self.tenants.items())) or "none yet"

    # ------------------------------------------------------------------ what a display does
    def on_file(self, index: int, path: Path, events: int) -> None:
        pass

    def on_execution(self, execution: dict[str, Any]) -> None:
        pass

    def on_settled(self, index: int) -> None:
        pass

    def close(self) -> None:
        pass


def _duration_ms(execution: dict[str, Any]) -> float:
    stop = execution.get("stopDate")
    return (stop - execution["startDate"]).total_seconds() * 1000 if stop else 0.0


class LineProgress(RunProgress):
    """Plain lines, for a stdout that is not a terminal."""

    polls = True

    def __init__(self, out: TextIO) -> None:
        super().__init__()
        self.out = out

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def on_file(self, index: int, path: Path, events: int) -> None:
        self._say(f"[{index + 1}/{self.total}] {path}: {events} event{'s' if events != 1 else ''}")

    def on_execution(self, execution: dict[str, Any]) -> None:
        self._say(f"  {execution['name']}  {execution['status']}  {_duration_ms(execution):.0f} ms")

    def on_settled(self, index: int) -> None:
        c = self.counts()
        self._say(
            f"[{index + 1}/{self.total}] settled: executions {c['succeeded']} succeeded, {c['failed']} failed, "
            f"{c['running']} running; tenants {self.tenant_summary()}"
        )


class LiveProgress(RunProgress):
    """A rich live display on a terminal."""

    polls = True

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self._task = self._bar.add_task("starting", total=None)
        self._live = Live(self, console=console, refresh_per_second=8, transient=False)

    def start(self, stack: LocalStack, total_files: int) -> None:
        self._bar.update(self._task, total=total_files, completed=0)
        super().start(stack, total_files)
        self._live.start()

    def on_file(self, index: int, path: Path, events: int) -> None:
        self._bar.update(self._task, description=f"{path.name} ({events} event{'s' if events != 1 else ''})")

    def on_settled(self, index: int) -> None:
        self._bar.update(self._task, completed=index + 1)

    def close(self) -> None:
        self._bar.update(self._task, description="settled")
        self._live.stop()

    def __rich__(self) -> Group:
        c = self.counts()
        grid = Table.grid(padding=(0, 2))
        grid.add_row(
            "executions",
            f"[yellow]running {c['running']}[/]",
            f"[green]succeeded {c['succeeded']}[/]",
            f"[red]failed {c['failed']}[/]",
        )
        grid.add_row("tenants", self.tenant_summary())
        return Group(self._bar.get_renderable(), grid)


def for_run(as_json: bool) -> RunProgress:
    """The display ``run`` gets: never on stdout with ``--json``; live on a terminal; else plain lines."""
    if as_json:
        return LiveProgress(Console(file=sys.stderr)) if sys.stderr.isatty() else RunProgress()
    if sys.stdout.isatty():
        return LiveProgress(Console(file=sys.stdout))
    return LineProgress(sys.stdout)
