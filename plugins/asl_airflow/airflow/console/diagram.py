"""The state machine as an SVG, laid out by Graphviz ``dot`` and coloured by an execution's statuses.

Why Graphviz: it is a maintained layout engine packaged by every Linux distribution (Debian:
``graphviz``), it lays out clusters (Map and Parallel as containers) and edge labels itself, and it
runs on the server, so the page carries a finished SVG: no JavaScript layout library, no CDN, and
the diagram also works as a plain image (the DAG's docs). We only write the DOT text; every
coordinate comes from ``dot``. Its SVG is then annotated for the page: each state's ``<g>`` gets
``data-state``, ``data-status`` and ``data-type``.
"""

from __future__ import annotations

import html
import shutil
import subprocess
import xml.etree.ElementTree as ET
from functools import lru_cache
from typing import Any

from asl_airflow.airflow.console.execution import CAUGHT, FAILED, NOT_RUN, RUNNING, SUCCEEDED
from asl_airflow.asl.graph import StateGraph

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
#: the Step Functions console's colours: (fill, border)
COLORS = {
    SUCCEEDED: ("#e9f6e6", "#1d8102"),
    FAILED: ("#fde8e8", "#d13212"),
    CAUGHT: ("#fff2e0", "#ec7211"),
    RUNNING: ("#e6f1fb", "#0972d3"),
    NOT_RUN: ("#f2f3f3", "#879596"),
}
#: a definition drawn without an execution
PLAIN = ("#ffffff", "#545b64")
DOT_TIMEOUT = 60.0


class DiagramUnavailable(Exception):
    """``dot`` is missing or failed: the page says so instead of drawing."""


def _q(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _html_label(name: str, caption: str) -> str:
    return (f'<<b>{html.escape(name)}</b><br/><font point-size="9" color="#545b64">'
            f"{html.escape(caption)}</font>>")


class _Writer:
    """Builds the DOT text; remembers which DOT node stands for which state."""

    def __init__(self, statuses: dict[str, str] | None, counts: dict[str, int | None]) -> None:
        self.statuses = statuses
        self.counts = counts
        self.lines: list[str] = []
        self.nodes: dict[str, str] = {}  # DOT id -> state name
        self.counter = 0

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def colors(self, name: str) -> tuple[str, str]:
        if self.statuses is None:
            return PLAIN
        return COLORS[self.statuses.get(name, NOT_RUN)]

    def render(self, machine: dict[str, Any], indent: str) -> tuple[str, list[str], dict[str, tuple[str, str]]]:
        """Write one (sub-)machine; returns its first node, the nodes it ends at, and per state
        ``(node an edge into it aims at, node an edge out of it leaves from)``."""
        ends: dict[str, tuple[str, str]] = {}
        terminals: list[str] = []
        clusters: dict[str, str] = {}
        for name, state in machine["States"].items():
            kind = state.get("Type", "?")
            node = self.new_id("s")
            self.nodes[node] = name
            fill, border = self.colors(name)
            shape = "box"
            style = "rounded,filled"
            if kind == "Choice":
                shape = "diamond" if len(name) <= 12 else "hexagon"
                style = "filled"
            caption = kind
            if kind in ("Parallel", "Map"):
                cluster = self.new_id("cluster_")
                clusters[name] = cluster
                count = self.counts.get(name)
                if kind == "Map":
                    caption = "Map" + (f" · {count} iteration{'s' if count != 1 else ''}" if count is not None else "")
                else:
                    n = len(state.get("Branches", []))
                    caption = f"Parallel · {n} branch{'es' if n != 1 else ''}"
                self.lines.append(f"{indent}subgraph {cluster} {{")
                self.lines.append(f'{indent}  id={_q(cluster)}; label=""; style="rounded,dashed"; '
                                  f"color={_q(border)}; penwidth=1.4; margin=12;")
                self.lines.append(f"{indent}  {node} [id={_q('state-' + node)}, label={_html_label(name, caption)}, "
                                  f"shape=box, style={_q(style)}, fillcolor={_q(fill)}, color={_q(border)}];")
                exit_node = self.new_id("x")
                branches = state.get("Branches") or [state.get("ItemProcessor") or state.get("Iterator") or {}]
                for index, branch in enumerate(branches):
                    if not branch.get("States"):
                        continue
                    sub = self.new_id("cluster_b")
                    title = f"branch {index + 1}" if kind == "Parallel" else "each item"
                    self.lines.append(f"{indent}  subgraph {sub} {{")
                    self.lines.append(f'{indent}    label={_q(title)}; style="rounded,dotted"; color="#aab7b8"; '
                                      'fontsize=9; fontcolor="#545b64";')
                    first, last, inner = self.render(branch, indent + "    ")
                    self.lines.append(f"{indent}  }}")
                    self.lines.append(f'{indent}  {node} -> {first} [lhead={sub}, color="#aab7b8", arrowsize=0.6];')
                    for tail in last:
                        self.lines.append(f'{indent}  {tail} -> {exit_node} [color="#aab7b8", arrowhead=none];')
                self.lines.append(f'{indent}  {exit_node} [shape=point, width=0.06, color="#aab7b8"];')
                self.lines.append(f"{indent}}}")
                ends[name] = (node, exit_node)
            else:
                self.lines.append(f"{indent}{node} [id={_q('state-' + node)}, label={_html_label(name, caption)}, "
                                  f"shape={shape}, style={_q(style)}, fillcolor={_q(fill)}, color={_q(border)}];")
                ends[name] = (node, node)
            if kind in ("Succeed", "Fail") or state.get("End") is True:
                terminals.append(ends[name][1])
        for edge in StateGraph.from_machine(machine).edges:
            if edge.source not in ends or edge.target not in ends:
                continue
            source = ends[edge.source][1]
            target = ends[edge.target][0]
            attrs = [f"id={_q(self.new_id('edge-' + edge.kind + '-'))}"]
            if edge.source in clusters:
                attrs.append(f"ltail={clusters[edge.source]}")
            if edge.target in clusters:
                attrs.append(f"lhead={clusters[edge.target]}")
            if edge.label:
                attrs.append(f"label={_q(edge.label)}")
            if edge.kind == "catch":
                attrs.append('style=dashed, color="#ec7211", fontcolor="#b5500b"')
            elif edge.kind == "default":
                attrs.append('fontcolor="#545b64"')
            self.lines.append(f"{indent}{source} -> {target} [{', '.join(attrs)}];")
        start_name = machine.get("StartAt", "")
        first = ends[start_name][0] if start_name in ends else next(iter(ends.values()), ("", ""))[0]
        return first, terminals, ends


def dot_source(machine: dict[str, Any], statuses: dict[str, str] | None = None,
               counts: dict[str, int | None] | None = None) -> tuple[str, dict[str, str]]:
    """The DOT text of ``machine`` (every state coloured by ``statuses``; none: a plain definition)
    and the DOT node id of each state."""
    writer = _Writer(statuses, counts or {})
    writer.lines += [
        "digraph asl {",
        '  graph [rankdir=TB, compound=true, fontname="Helvetica", nodesep=0.35, ranksep=0.45, '
        'bgcolor="transparent", fontsize=10];',
        '  node [fontname="Helvetica", fontsize=11, penwidth=1.6, margin="0.22,0.07", height=0.45];',
        '  edge [fontname="Helvetica", fontsize=9, color="#545b64", arrowsize=0.7, penwidth=1.1];',
        '  start [id="start", label="Start", shape=oval, style=filled, fillcolor="#ffffff", color="#545b64"];',
        '  end [id="end", label="End", shape=oval, style=filled, fillcolor="#ffffff", color="#545b64"];',
    ]
    first, terminals, _ = writer.render(machine, "  ")
    if first:
        writer.lines.append(f"  start -> {first};")
    for tail in terminals:
        writer.lines.append(f"  {tail} -> end;")
    writer.lines.append("}")
    return "\n".join(writer.lines) + "\n", writer.nodes


@lru_cache(maxsize=64)
def _run_dot(source: str) -> str:
    executable = shutil.which("dot")
    if executable is None:
        raise DiagramUnavailable("Graphviz is not installed on the API server (Debian: apt-get install graphviz)")
    try:
        done = subprocess.run([executable, "-Tsvg"], input=source.encode(), capture_output=True,
                              timeout=DOT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise DiagramUnavailable(f"Graphviz took longer than {DOT_TIMEOUT:g} seconds to lay out the machine") from None
    if done.returncode != 0:
        raise DiagramUnavailable("Graphviz failed: " + done.stderr.decode(errors="replace")[-500:])
    return done.stdout.decode()


def render_svg(machine: dict[str, Any], statuses: dict[str, str] | None = None,
               counts: dict[str, int | None] | None = None, types: dict[str, str] | None = None) -> str:
    """The inline SVG: ``dot``'s layout, each state's group carrying ``data-state``, ``data-status``
    (when ``statuses`` is given) and ``data-type``, ready for the page's script and its CSS."""
    source, nodes = dot_source(machine, statuses, counts)
    text = _run_dot(source)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    root = ET.fromstring(text[text.index("<svg"):])
    for group in root.iter(f"{{{SVG_NS}}}g"):
        group_id = group.get("id", "")
        if group_id.startswith("state-"):
            name = nodes.get(group_id.removeprefix("state-"))
            if name is None:
                continue
            group.set("data-state", name)
            if statuses is not None:
                group.set("data-status", statuses.get(name, NOT_RUN))
            if types is not None and name in types:
                group.set("data-type", types[name])
            group.set("class", "node asl-state")
            group.set("tabindex", "0")
            group.set("role", "button")
            title = group.find(f"{{{SVG_NS}}}title")
            if title is not None:
                title.text = name
        elif group_id.startswith("edge-"):
            group.set("data-kind", group_id.split("-")[1])
    root.set("class", "asl-diagram")
    root.set("role", "img")
    return ET.tostring(root, encoding="unicode")
