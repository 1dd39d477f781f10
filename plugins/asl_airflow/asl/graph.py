"""The neutral graph of a state machine: states, transitions, loops, task ids, Mermaid.

This sits between parsing and rendering (as in astronomer-cosmos): the Airflow compiler and the
``graph`` command both read it, and neither needs to know how transitions are spelled in ASL.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

#: Airflow keys allow ``[A-Za-z0-9_.-]``; a label made from a state name never keeps the ``.``, which
#: Airflow uses to join TaskGroup ids, so a state named ``P.join`` cannot become Parallel ``P``'s join
_INVALID_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
#: Airflow's limit on a task id, the full dotted path through its TaskGroups included
MAX_TASK_ID = 250


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # "next" | "choice" | "default" | "catch"
    label: str = ""


@dataclass
class StateGraph:
    """States of one (sub-)machine with their transitions; nested branches are separate graphs."""

    start_at: str
    states: dict[str, dict[str, Any]]
    edges: list[Edge] = field(default_factory=list)

    @classmethod
    def from_machine(cls, machine: dict[str, Any]) -> StateGraph:
        graph = cls(machine["StartAt"], machine["States"])
        for name, state in machine["States"].items():
            if state.get("Next"):
                graph.edges.append(Edge(name, state["Next"], "next"))
            for rule in state.get("Choices", []):
                graph.edges.append(Edge(name, rule["Next"], "choice", rule_text(rule)))
            if state.get("Default"):
                graph.edges.append(Edge(name, state["Default"], "default", "Default"))
            for catcher in state.get("Catch", []):
                graph.edges.append(Edge(name, catcher["Next"], "catch", catch_text(catcher)))
        return graph

    def _adjacency(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """Successor and predecessor lists, built once (compiling 5,000 states stays linear)."""
        cached = self.__dict__.get("_adjacent")
        if cached is None or cached[0] != len(self.edges):
            succ: dict[str, list[str]] = {}
            pred: dict[str, list[str]] = {}
            for edge in self.edges:
                targets = succ.setdefault(edge.source, [])
                if edge.target not in targets:
                    targets.append(edge.target)
                sources = pred.setdefault(edge.target, [])
                if edge.source not in sources:
                    sources.append(edge.source)
            cached = (len(self.edges), succ, pred)
            self.__dict__["_adjacent"] = cached
        return cached[1], cached[2]

    def successors(self, name: str) -> list[str]:
        return list(self._adjacency()[0].get(name, ()))

    def predecessors(self, name: str) -> list[str]:
        return list(self._adjacency()[1].get(name, ()))

    def strongly_connected(self) -> list[list[str]]:
        """Strongly connected components (Tarjan, iterative), in reverse topological order.

        A component with more than one state, or a state that transitions to itself, is a loop:
        Airflow graphs are acyclic, so the compiler runs such a region as one task.
        """
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        on_stack: set[str] = set()
        stack: list[str] = []
        result: list[list[str]] = []
        counter = 0
        for root in self.states:
            if root in index:
                continue
            work = [(root, iter(self.successors(root)))]
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack.add(root)
            while work:
                node, children = work[-1]
                advanced = False
                for child in children:
                    if child not in index:
                        index[child] = low[child] = counter
                        counter += 1
                        stack.append(child)
                        on_stack.add(child)
                        work.append((child, iter(self.successors(child))))
                        advanced = True
                        break
                    if child in on_stack:
                        low[node] = min(low[node], index[child])
                if advanced:
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    result.append(component)
        return result

    def loops(self) -> list[list[str]]:
        """The components that are real loops, each in definition order."""
        order = {name: i for i, name in enumerate(self.states)}
        out = []
        for comp in self.strongly_connected():
            if len(comp) > 1 or comp[0] in self.successors(comp[0]):
                out.append(sorted(comp, key=order.__getitem__))
        return out


#: the comparison operators of a JSONPath Choice rule, as they read in a diagram
_OPERATORS = (("GreaterThanEquals", ">="), ("LessThanEquals", "<="), ("GreaterThan", ">"), ("LessThan", "<"),
              ("Equals", "=="), ("Matches", "matches"))
#: a diagram label stays short; the full rule is in the state's ASL
MAX_RULE_TEXT = 60


def catch_text(catcher: dict[str, Any]) -> str:
    """A Catch edge's label, e.g. ``catch: States.ALL``."""
    return "catch: " + ", ".join(str(e) for e in catcher.get("ErrorEquals", []))


def _condition(rule: dict[str, Any]) -> str:
    if "Condition" in rule:  # JSONata: the expression itself
        return str(rule["Condition"]).removeprefix("{%").removesuffix("%}").strip()
    if "And" in rule or "Or" in rule:
        word = " and " if "And" in rule else " or "
        parts = rule.get("And") or rule.get("Or") or []
        return "(" + word.join(_condition(p) for p in parts) + ")"
    if "Not" in rule:
        return "not " + _condition(rule["Not"])
    variable = str(rule.get("Variable", "$"))
    for key, value in rule.items():
        if key in ("Variable", "Next", "Comment", "Assign", "Output"):
            continue
        if key.startswith("Is"):  # IsPresent, IsNull, IsString, ...: a test of the variable itself
            what = key[2:].lower()
            return f"{variable} is {'' if value else 'not '}{what}"
        path = key.endswith("Path")
        stem = key.removesuffix("Path")
        for suffix, symbol in _OPERATORS:
            if stem.endswith(suffix):
                shown = value if path else json.dumps(value, ensure_ascii=False)
                return f"{variable} {symbol} {shown}"
    return variable


def rule_text(rule: dict[str, Any]) -> str:
    """A short text of a Choice rule for an edge label (``$.x > 5``, ``($.a == "x" and not $.b is null)``):
    why the edge exists, readable in a graph; cut at :data:`MAX_RULE_TEXT` characters."""
    text = _condition(rule)
    if text.startswith("(") and text.endswith(")") and ("And" in rule or "Or" in rule):
        text = text[1:-1]
    return text if len(text) <= MAX_RULE_TEXT else text[:MAX_RULE_TEXT - 1] + "…"


def short_hash(text: str) -> str:
    """Eight hex digits of SHA-1: stable across parses and Python processes (``hash()`` is salted)."""
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def id_label(name: str, taken: set[str] | None = None, room: int = 200) -> str:
    """An Airflow-valid, dot-free id component for a state name (the name stays the display name).

    The same name in the same place always gives the same label, so Airflow keeps a state's
    history across parses. ``room`` is what is left of Airflow's 250 characters under the
    enclosing TaskGroups: a longer label is cut and given a hash of the full name, so two long
    names sharing a beginning still differ. A label already ``taken`` in the same scope gets
    ``_2``, ``_3``, ... in definition order.
    """
    room = max(room, 12)
    base = _INVALID_ID_CHARS.sub("_", name).strip("_") or "state"
    if len(base) > room:
        base = f"{base[:room - 9]}_{short_hash(name)}"
    candidate = base
    n = 2
    while taken is not None and candidate in taken:
        suffix = f"_{n}"
        stem = base if len(base) + len(suffix) <= room else f"{base[:room - 9 - len(suffix)]}_{short_hash(name)}"
        candidate = stem + suffix
        n += 1
    if taken is not None:
        taken.add(candidate)
    return candidate


def task_id_for(name: str, taken: set[str] | None = None) -> str:
    """An Airflow-valid task id for a state name at the top of a DAG (see :func:`id_label`)."""
    return id_label(name, taken, MAX_TASK_ID)


def mermaid(machine: dict[str, Any]) -> str:
    """A Mermaid flowchart of the machine, branches of Parallel and Map as subgraphs."""
    lines = ["flowchart TD"]
    counter = [0]

    def node_id() -> str:
        counter[0] += 1
        return f"s{counter[0]}"

    def render(sub: dict[str, Any], indent: str) -> tuple[str, dict[str, str]]:
        ids = {name: node_id() for name in sub["States"]}
        graph = StateGraph.from_machine(sub)
        for name, state in sub["States"].items():
            label = f"{name}<br/><i>{state['Type']}</i>".replace('"', "#quot;")
            shape = ('(["', '"])') if state["Type"] in ("Succeed", "Fail") else (
                ('{"', '"}') if state["Type"] == "Choice" else ('["', '"]'))
            if state["Type"] in ("Parallel", "Map"):
                lines.append(f'{indent}subgraph {ids[name]}_g ["{name} ({state["Type"]})"]')
                branches = state.get("Branches") or [state.get("ItemProcessor") or state.get("Iterator")]
                for branch in branches:
                    if branch:
                        render(branch, indent + "  ")
                lines.append(f"{indent}end")
                lines.append(f"{indent}{ids[name]}{shape[0]}{label}{shape[1]}")
                lines.append(f"{indent}{ids[name]}_g -.- {ids[name]}")
            else:
                lines.append(f"{indent}{ids[name]}{shape[0]}{label}{shape[1]}")
        for edge in graph.edges:
            arrow = "-.->" if edge.kind == "catch" else "-->"
            text = edge.label.replace('"', "#quot;")
            label = f'|"{text}"|' if edge.label else ""
            lines.append(f"{indent}{ids[edge.source]} {arrow}{label} {ids[edge.target]}")
        return ids[sub["StartAt"]], ids

    start, _ = render(machine, "  ")
    lines.insert(1, "  start((start))")
    lines.append(f"  start --> {start}")
    return "\n".join(lines)
