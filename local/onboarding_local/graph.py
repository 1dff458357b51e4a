"""``onboarding-local graph [EXECUTION_OR_TENANT] [--out FILE]``: the state machines drawn from their ASL with
graphviz (SVG or PNG), or one execution's path through its machine, as the console's graph inspector shows it.

Without an argument every machine of ``statemachines/`` is drawn, each in a box of its own. With one, the
execution is found on a running ``serve`` in the work dir (its ``endpoint`` file), else in what the last ``run``
saved there (``executions.json``, see ``save_executions``): an execution ARN or name, a tenant id (the tenant's
latest execution, whatever its machine) or a release id. The states it ran are filled (green: succeeded,
orange: an error a Catch handled, red: failed, blue: still running) with their total duration, visits and
attempts; the transitions it took are drawn bold. Map iterators and Parallel branches are drawn as clusters
inside their state's box. State names are looked up per machine, so a name used twice in one machine (in two
branches) shares one path entry.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onboarding_local import workdir as workdirs
from onboarding_local.asl_drawing import draw
from onboarding_local.execution_path import ExecutionPath, execution_path, fmt_ms
from onboarding_local.provision import REPO_ROOT

if TYPE_CHECKING:
    import graphviz

MACHINES_DIR = REPO_ROOT / "statemachines"
SAVED = "executions.json"  # written by save_executions at the end of a `run`
FORMATS = {".svg": "svg", ".png": "png"}


def render(graph: graphviz.Digraph, out: Path) -> Path:
    """Write ``graph`` to ``out`` in the format its suffix names (.svg or .png; none: .svg is added)."""
    import graphviz

    if not out.suffix:
        out = out.with_suffix(".svg")
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise SystemExit(f"onboarding-local graph: --out {out}: the suffix must be one of {', '.join(FORMATS)}")
    try:
        data = graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound as exc:
        raise SystemExit("onboarding-local graph: graphviz's `dot` is not installed (`make system-deps`)") from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out


def asl_files(directory: Path = MACHINES_DIR) -> dict[str, dict[str, Any]]:
    """Every ``*.asl.json`` under ``directory``, by name (``onboarding``, ``lifecycle``, ``release``)."""
    found = sorted(directory.glob("*.asl.json"))
    return {p.name.removesuffix(".asl.json"): json.loads(p.read_text(encoding="utf-8")) for p in found}


# ------------------------------------------------------------------ where executions come from
def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _lean(event: dict[str, Any]) -> dict[str, Any]:
    """A history event with what a path needs: ids, type, time, and its details' state name, error and index
    (not the states' inputs and outputs, most of a history's size)."""
    lean: dict[str, Any] = {k: event[k] for k in ("id", "previousEventId", "type", "timestamp") if k in event}
    for key, details in event.items():
        if key.endswith("EventDetails") and isinstance(details, dict):
            lean[key] = {k: details[k] for k in ("name", "error", "index") if k in details}
    return lean


def snapshot(sfn: Any) -> dict[str, Any]:
    """Every state machine's definition and every execution (its input, not its output) with its history
    (``_lean``), as JSON-ready data."""
    machines: dict[str, Any] = {}
    executions = []
    for machine in sfn.list_state_machines()["stateMachines"]:
        arn = machine["stateMachineArn"]
        machines[arn] = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
            for summary in page["executions"]:
                info = sfn.describe_execution(executionArn=summary["executionArn"])
                for bulky in ("ResponseMetadata", "output", "outputDetails", "inputDetails"):
                    info.pop(bulky, None)
                pages = sfn.get_paginator("get_execution_history").paginate(executionArn=summary["executionArn"])
                events = [_lean(ev) for p in pages for ev in p["events"]]
                executions.append({"execution": info, "history": events})
    data: dict[str, Any] = json.loads(json.dumps({"machines": machines, "executions": executions}, default=_plain))
    return data


def save_executions(sfn: Any, workdir: Path) -> Path:
    """What ``graph`` reads once the stack is gone: ``<workdir>/executions.json`` (the end of a ``run``)."""
    target = workdir / SAVED
    target.write_text(json.dumps(snapshot(sfn)), encoding="utf-8")
    return target


def _latest(executions: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The execution ``key`` names: its ARN; else the latest of a tenant or release id; else its name."""

    def input_of(e: dict[str, Any]) -> dict[str, Any]:
        parsed = json.loads(e["execution"].get("input") or "{}")
        return parsed if isinstance(parsed, dict) else {}

    for test in (
        lambda e: e["execution"]["executionArn"] == key,
        lambda e: key in (input_of(e).get("tenantId"), input_of(e).get("releaseId")),
        lambda e: e["execution"]["name"] == key,
    ):
        found = [e for e in executions if test(e)]
        if found:
            return max(found, key=lambda e: str(e["execution"]["startDate"]))
    return None


def load_snapshot(workdir: Path) -> dict[str, Any]:
    """A ``snapshot`` of the ``serve`` running in ``workdir`` (its endpoint file), else the last ``run``'s."""
    endpoint = workdirs.live_endpoint(workdir)  # one line and exit 1 when the endpoint file is stale
    if endpoint is not None:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        client = boto3.client(
            "stepfunctions",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the local stack accepts any key
            config=Config(connect_timeout=2, read_timeout=30, retries={"max_attempts": 1}),
        )
        try:
            return snapshot(client)
        except BotoCoreError as exc:
            raise SystemExit(f"onboarding-local graph: the serve at {endpoint} does not answer: {exc}") from None
    saved = workdir / SAVED
    if not saved.exists():
        raise SystemExit(f"onboarding-local graph: no executions in {workdir}: `onboarding-local run` or `serve` first")
    data: dict[str, Any] = json.loads(saved.read_text(encoding="utf-8"))
    return data


def execution_graph(data: dict[str, Any], key: str) -> tuple[graphviz.Digraph, ExecutionPath]:
    """The graph of the execution ``key`` names in ``data`` (a ``snapshot``), with its path."""
    found = _latest(data["executions"], key)
    if found is None:
        raise LookupError(key)
    info = found["execution"]
    path = execution_path(info, found["history"])
    return draw({path.machine: data["machines"][info["stateMachineArn"]]}, path), path


# ------------------------------------------------------------------ the command
def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "graph",
        help="draw the state machines, or one execution's path (SVG or PNG, with graphviz)",
        description="Draw the state machines from their ASL, or one execution's path through its machine, as the "
        "console's graph inspector does: the states it ran with their durations, the failed state marked.",
    )
    p.add_argument(
        "target",
        nargs="?",
        default=argparse.SUPPRESS,  # no "(default: None)" in the help
        metavar="EXECUTION_OR_TENANT",
        help="an execution ARN or name, a tenant id (its latest execution) or a release id; without it, every "
        "state machine of statemachines/",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="the file to write; its suffix picks the format, .svg or .png (default: statemachines.svg, or "
        "<execution name>.svg)",
    )
    p.add_argument("--workdir", type=Path, default=Path(".local-stack"), help="the work dir to read")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    target, out = getattr(args, "target", None), getattr(args, "out", None)
    if target is None:
        graph, default_out = draw(asl_files()), Path("statemachines.svg")
    else:
        data = load_snapshot(args.workdir)
        try:
            graph, path = execution_graph(data, target)
        except LookupError:
            print(
                f"onboarding-local graph: no execution, tenant or release {target} in {args.workdir}", file=sys.stderr
            )
            return 1
        default_out = Path(f"{path.name}.svg")
        print(f"{path.machine} {path.name}: {path.status} in {fmt_ms(path.duration_ms)}")
    written = render(graph, out or default_out)
    print(f"wrote {written}")
    return 0
