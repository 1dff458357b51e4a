"""The state machines' ASL drawn with graphviz: states as nodes (Map iterators and Parallel branches as clusters
inside their state's box), transitions as edges (Catch dashed, Choice rules labelled), and, when an execution's
path is given, the states it ran filled by their outcome with their duration and the transitions it took bold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from onboarding_local.execution_path import END, START, ExecutionPath, fmt_ms

if TYPE_CHECKING:
    import graphviz

FILL = {"succeeded": "#e6f4ea", "caught": "#fff3e0", "failed": "#fdecea", "running": "#e3f2fd"}
LINE = {"succeeded": "#2e7d32", "caught": "#ef6c00", "failed": "#c62828", "running": "#1565c0"}
IDLE = "#9e9e9e"  # states and transitions the execution did not take
FONT = "Helvetica"


@dataclass
class Edge:
    tail: str  # node ids
    head: str
    kind: str  # next | choice | default | catch | iterate | end | start
    label: str = ""
    ltail: str | None = None  # the cluster a Map or Parallel's own edges leave from


def _rule_label(rule: dict[str, Any]) -> str:
    """A Choice rule, short: ``$.signup.deploymentModel == remote``; compound rules by their operator."""
    for op in ("And", "Or"):
        if op in rule:
            return f"\n{op.lower()} ".join(_rule_label(r) for r in rule[op])
    if "Not" in rule:
        return f"not ({_rule_label(rule['Not'])})"
    if "Condition" in rule:  # JSONata
        return str(rule["Condition"])[:40]
    variable = str(rule.get("Variable", ""))
    for key, value in rule.items():
        if key not in ("Variable", "Next"):
            symbol = {"Equals": "==", "GreaterThan": ">", "LessThan": "<", "GreaterThanEquals": ">=",
                      "LessThanEquals": "<=", "IsPresent": "present", "IsNull": "null"}  # fmt: skip
            op = next((s for k, s in symbol.items() if key.endswith(k)), key)
            return f"{variable} {op} {json.dumps(value) if not isinstance(value, str) else value}"
    return variable


class MachineDrawing:
    """One machine's states in ``graph`` (a Digraph or one of its clusters), ids prefixed by ``prefix``."""

    def __init__(self, definition: dict[str, Any], prefix: str, path: ExecutionPath | None) -> None:
        self.definition, self.prefix, self.path = definition, prefix, path
        self.edges: list[Edge] = []
        self.kinds: dict[str, str] = {}  # node id -> state name (or START / END)
        self.ids: dict[str, str] = {}  # "<machine>/<scope>/<state>" -> node id
        self.paths: dict[str, str] = {}  # node id -> "<machine>/<scope>/<state>", the SVG element's id

    def node_id(self, scope: str, name: str) -> str:
        """graphviz's id of a state (opaque: ``:`` in a name would read as a port); ``self.paths`` has its path."""
        readable = f"{self.prefix}{scope}/{name}"
        if readable not in self.ids:
            self.ids[readable] = f"{self.prefix}_n{len(self.ids)}"
            self.paths[self.ids[readable]] = readable
        return self.ids[readable]

    def draw(self, graph: graphviz.Digraph) -> None:
        start, end = self.node_id("", START), self.node_id("", END)
        self.kinds.update({start: START, end: END})
        self._premark(self.definition)
        self._states(graph, self.definition, "", end)
        self.edges.insert(0, Edge(start, self.node_id("", self.definition["StartAt"]), "start"))
        self._merge_parallel_edges()
        graph.node(start, "Start", shape="circle", id=self.paths[start], **self._node_style(START))
        graph.node(end, "End", shape="doublecircle", id=self.paths[end], **self._node_style(END))
        for edge in self.edges:
            taken = self._taken(edge)
            color = "#263238" if taken else IDLE if self.path else "#455a64"
            attrs = {"color": color, "fontcolor": color, "penwidth": "2.5" if taken else "1"}
            if edge.kind == "catch":
                attrs["style"] = "dashed"
            if edge.kind == "iterate":
                attrs["style"] = "dotted"
            if edge.ltail:
                attrs["ltail"] = edge.ltail
            attrs["class"] = "transition taken" if taken else "transition"
            catch = " (catch)" if edge.kind == "catch" else ""
            attrs["id"] = f"{self.paths[edge.tail]} -> {self.paths[edge.head]}{catch}"
            graph.edge(edge.tail, edge.head, label=edge.label, fontname=FONT, fontsize="9", **attrs)

    def _states(self, graph: graphviz.Digraph, block: dict[str, Any], scope: str, end: str | None) -> None:
        for name, state in block["States"].items():
            nid = self.node_id(scope, name)
            self.kinds[nid] = name
            kind = state["Type"]
            inner = [state.get("ItemProcessor") or state.get("Iterator")] if kind == "Map" else state.get("Branches")
            cluster = None
            if kind in ("Map", "Parallel") and inner:
                cluster = f"cluster_{nid}"
                with graph.subgraph(name=cluster) as box:
                    box.attr(label=f"{name} ({kind})", style="rounded,dashed", color="#78909c", fontname=FONT,
                             fontsize="10", labeljust="l")  # fmt: skip
                    self._node(box, nid, name, kind)
                    for i, branch in enumerate(inner):
                        sub_scope = f"{scope}/{name}" + (f"[{i}]" if kind == "Parallel" else "")
                        if kind == "Parallel":
                            with box.subgraph(name=f"cluster_{nid}_{i}") as lane:
                                lane.attr(label=f"branch {i + 1}", style="dotted", color="#b0bec5")
                                self._states(lane, branch, sub_scope, None)
                        else:
                            self._states(box, branch, sub_scope, None)
                        label = "each item" if kind == "Map" else f"branch {i + 1}"
                        self.edges.append(Edge(nid, self.node_id(sub_scope, branch["StartAt"]), "iterate", label))
            else:
                self._node(graph, nid, name, kind)
            for target, edge_kind, label in self._exits(state):
                self.edges.append(Edge(nid, self.node_id(scope, target), edge_kind, label, cluster))
            if end is not None and (state.get("End") or kind in ("Succeed", "Fail")):
                self.edges.append(Edge(nid, end, "end", ltail=cluster))

    @staticmethod
    def _exits(state: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
        if "Next" in state:
            yield state["Next"], "next", ""
        for rule in state.get("Choices", []):
            yield rule["Next"], "choice", _rule_label(rule)
        if "Default" in state:
            yield state["Default"], "default", "default"
        for catcher in state.get("Catch", []):
            yield catcher["Next"], "catch", ", ".join(catcher.get("ErrorEquals", []))

    def _run(self, name: str) -> Any:
        return self.path.states.get(name) if self.path else None

    def _node_style(self, name: str) -> dict[str, str]:
        run = self._run(name)
        visited = run is not None or (self.path is not None and self._pseudo_taken(name))
        status = run.status if run is not None else "succeeded" if visited else None
        return {
            "style": "rounded,filled" if name not in (START, END) else "filled",
            "fillcolor": FILL[status] if status else "#ffffff",
            "color": LINE[status] if status else IDLE if self.path else "#455a64",
            "penwidth": "2" if status else "1",
            "fontname": FONT,
            "fontsize": "11",
            "class": f"state {status}" if status else "state not-run",
        }

    def _pseudo_taken(self, pseudo: str) -> bool:
        assert self.path is not None
        return any(pseudo in pair for pair in self.path.transitions)

    def _node(self, graph: graphviz.Digraph, nid: str, name: str, kind: str) -> None:
        lines = [name]
        run = self._run(name)
        if run is not None:
            timing = fmt_ms(run.duration_ms) + (f" · {run.visits} visits" if run.visits > 1 else "")
            if run.attempts > run.visits:
                timing += f" · {run.attempts} attempts"
            lines.append(timing)
            if run.status in ("caught", "failed"):
                lines.append(f"{'✗ failed' if run.status == 'failed' else 'caught'}: {run.error or 'error'}")
        shape = {"Choice": "diamond", "Succeed": "box", "Fail": "box"}.get(kind, "box")
        extra = {"peripheries": "2"} if kind in ("Succeed", "Fail") else {}
        graph.node(nid, "\n".join(lines), shape=shape, tooltip=f"{kind}: {name}", id=self.paths[nid], **extra,
                   **self._node_style(name))  # fmt: skip

    def _merge_parallel_edges(self) -> None:
        """One edge per (from, to), labels joined (two Choice rules to one state); a Catch stays apart."""
        merged: dict[tuple[str, str, bool], Edge] = {}
        for edge in self.edges:
            key = (edge.tail, edge.head, edge.kind == "catch")
            if key in merged:
                merged[key].label = "\n".join(x for x in (merged[key].label, edge.label) if x)
            else:
                merged[key] = edge
        self.edges = list(merged.values())
        self._also_next = {(e.tail, e.head) for e in self.edges if e.kind != "catch"}
        self._catch_pairs = {(e.tail, e.head) for e in self.edges if e.kind == "catch"}

    def _taken(self, edge: Edge) -> bool:
        """The history knows the states on both ends, not which of two edges between them: when a state has
        a Catch and a Next to the same state, the Catch was taken when the state's error was caught."""
        if self.path is None or (self.kinds[edge.tail], self.kinds[edge.head]) not in self.path.transitions:
            return False
        pair = (edge.tail, edge.head)
        if pair in self._also_next and pair in self._catch_pairs:  # a Next and a Catch to one state
            run = self._run(self.kinds[edge.tail])
            caught = run is not None and run.status == "caught"
            return caught if edge.kind == "catch" else not caught
        return True

    def _premark(self, block: dict[str, Any]) -> None:
        """What the definition adds to the history: a state left along its only edge to a Catch's target raised
        the error it caught (a Map or Parallel has no task event that says so); a Fail state names its error."""
        if self.path is None:
            return
        for name, state in block["States"].items():
            run = self.path.states.get(name)
            if run is not None and state["Type"] == "Fail" and state.get("Error"):
                run.error = state["Error"]
            for catcher in state.get("Catch", []):
                target = catcher["Next"]
                if run is not None and (name, target) in self.path.transitions and state.get("Next") != target:
                    run.mark("caught", run.error or ", ".join(catcher.get("ErrorEquals", [])))
            inner = state.get("ItemProcessor") or state.get("Iterator")
            for branch in [inner] if inner else state.get("Branches", []):
                self._premark(branch)


def draw(machines: dict[str, dict[str, Any]], path: ExecutionPath | None = None) -> graphviz.Digraph:
    """Every machine in ``machines`` (name -> ASL), each in a cluster; or one machine with ``path`` drawn on it."""
    import graphviz

    graph = graphviz.Digraph("statemachines", graph_attr={"compound": "true", "rankdir": "TB", "fontname": FONT,
                                                         "nodesep": "0.3", "ranksep": "0.35"})  # fmt: skip
    if path is not None:
        ((name, definition),) = machines.items()
        title = f"{name} · {path.name} · {path.status} · {fmt_ms(path.duration_ms)}"
        if path.error:
            title += f"\n{path.error}: {(path.cause or '')[:160]}"
        graph.attr(label=title, labelloc="t", fontsize="13")
        MachineDrawing(definition, name, path).draw(graph)
        return graph
    for name, definition in machines.items():
        with graph.subgraph(name=f"cluster_{name}") as box:
            box.attr(label=name, fontsize="14", style="rounded", color="#37474f", labeljust="l")
            MachineDrawing(definition, name, None).draw(box)
    return graph
