"""ASL -> Airflow tasks: one task per state, the Airflow graph mirroring the state machine.

Reads the neutral :class:`~asl_airflow.asl.graph.StateGraph` and renders it into the current DAG
or TaskGroup (cosmos-style: parse -> graph -> render -> operators). Each state becomes a *unit*:

- a simple state (Task, Pass, Choice, Wait, Succeed, Fail): one task;
- Parallel: a TaskGroup holding an entry task, a TaskGroup per branch and a join task;
- Map: a TaskGroup holding an entry task, a mapped TaskGroup for the ItemProcessor and a join task;
- a loop (strongly connected states), and a Parallel/Map that Airflow cannot lay out as tasks
  (one with Retry: a retry re-runs the branches; a Map inside a Map's items: Airflow does not map
  inside a mapped group): one region task running those states through the reference interpreter.

Trigger rules encode "only the states Step Functions would enter run": a unit reachable from
several units runs when any of them succeeded and chose it; every other task ends skipped.

Task ids (Airflow keys a task's history by them, so the same definition always gives the same ids):
a state's id is its name made Airflow-valid without dots (:func:`~asl_airflow.asl.graph.id_label`)
under the TaskGroups of the Parallel/Map states holding it, e.g. ``Fan_out.branch_1.Load``; a
Parallel/Map group holds only ``start``, ``join`` and ``branch_<n>``/``items``, which no state label
can equal. Airflow allows 250 characters for the whole path, so a group id is kept within
``_GROUP_ID_BUDGET`` (a long name is cut and hashed); deeper than that, a group stops prefixing its
children (``prefix_group_id=False``) and names them after a root token made from the state name and
a hash of the group's own id (``<name>_<hash>.start``, ``<name>_<hash>_branch_1.Load``), so any
nesting depth fits. Display names, tooltips and group labels keep the state names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asl_airflow.airflow.operators import AslStateOperator, AslTaskOperator
from asl_airflow.asl.definition import Definition, json_pointer
from asl_airflow.asl.errors import AslValidationError
from asl_airflow.asl.graph import MAX_TASK_ID, StateGraph, id_label, short_hash
from asl_airflow.asl.states import processor, task_states

#: a Parallel/Map group's own id stays within this many characters, leaving its tasks room under
#: Airflow's 250 (``<group>.branch_<n>.<label of at most ~90>``)
_GROUP_ID_BUDGET = 120
#: below this much room for a group label, the group re-roots its children's ids (module docstring)
_MIN_GROUP_LABEL = 20


def _current_prefix() -> str:
    """The ``group.`` prefix Airflow puts before an id created here ("" at the top of a DAG)."""
    from airflow.sdk.definitions._internal.contextmanager import TaskGroupContext

    group = TaskGroupContext.get_current()
    return group.child_id("x")[:-1] if group is not None else ""


def check_compilable(definition: Definition) -> None:
    """Reject, with file and pointer, a Task whose Resource no integration serves (at parse time,
    not in the middle of a run)."""
    from asl_airflow.integrations.catalog import problem

    problems = []
    for path, state in task_states(definition.document, ()):
        reason = problem(state["Resource"])
        if reason:
            problems.append(f"{definition.source}:{json_pointer(*path, 'Resource')}: {reason}")
    if problems:
        raise AslValidationError(problems)


@dataclass
class _Scope:
    """Where a (sub-)machine is rendered: the top level, a Parallel branch or a Map's items."""

    entry_task_id: str | None = None  # the Parallel/Map entry task feeding this sub-machine's StartAt
    nested: bool = False
    mapped: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # task kwargs for every task in this scope
    items: bool = False  # a Map's ItemProcessor itself (its first task reads its own item)


@dataclass
class _Unit:
    names: list[str]
    kind: str  # "state" | "parallel" | "map" | "region"
    head: Any = None
    tail: Any = None


class _Compiler:
    def __init__(self, definition: Definition, aws_conn_id: str, region_name: str | None,
                 task_kwargs: dict[str, Any] | None) -> None:
        self.definition = definition
        self.aws = {"aws_conn_id": aws_conn_id, "region_name": region_name}
        self.task_kwargs = dict(task_kwargs or {})
        #: ids that live at the top of the DAG: the top-level labels (when the machine is the whole
        #: DAG) and the re-rooted groups' tokens, so neither can take the other's id
        self.root_taken: set[str] = set()

    # -- units ----------------------------------------------------------------------------------

    def units(self, machine: dict[str, Any], graph: StateGraph, scope: _Scope) -> list[_Unit]:
        in_loop: dict[str, list[str]] = {}
        for loop in graph.loops():
            start = machine["StartAt"]
            members = sorted(loop, key=lambda n: n != start)  # the StartAt first: it is where a run begins
            for name in loop:
                in_loop[name] = members
        units: list[_Unit] = []
        seen: set[str] = set()
        for name, state in machine["States"].items():
            if name in seen:
                continue
            if name in in_loop:
                unit = _Unit(in_loop[name], "region")
            elif state["Type"] in ("Parallel", "Map") and (
                    state.get("Retry") or (state["Type"] == "Map" and scope.mapped)):
                unit = _Unit([name], "region")
            elif state["Type"] == "Parallel":
                unit = _Unit([name], "parallel")
            elif state["Type"] == "Map":
                unit = _Unit([name], "map")
            else:
                unit = _Unit([name], "state")
            seen.update(unit.names)
            units.append(unit)
        return units

    # -- rendering ------------------------------------------------------------------------------

    def render(self, machine: dict[str, Any], scope: _Scope) -> tuple[dict[str, _Unit], _Unit]:
        """Create the tasks of one (sub-)machine in the current DAG/TaskGroup; returns name -> unit
        and the unit holding its StartAt."""
        graph = StateGraph.from_machine(machine)
        units = self.units(machine, graph, scope)
        of = {name: unit for unit in units for name in unit.names}
        preds: dict[int, list[_Unit]] = {id(u): [] for u in units}
        succs: dict[int, list[_Unit]] = {id(u): [] for u in units}
        for unit in units:
            for name in unit.names:
                for target in graph.successors(name):
                    other = of[target]
                    if other is not unit and other not in succs[id(unit)]:
                        succs[id(unit)].append(other)
                        preds[id(other)].append(unit)
        language = machine.get("QueryLanguage", self.definition.query_language)
        taken: set[str] = self.root_taken if _current_prefix() == "" else set()
        start_unit = of[machine["StartAt"]]
        for unit in units:
            kwargs: dict[str, Any] = {**self.task_kwargs, **scope.extra}
            if len(preds[id(unit)]) > 1:
                kwargs["trigger_rule"] = "none_failed_min_one_success"
            if unit is start_unit:
                if scope.entry_task_id:
                    kwargs["entry_task_id"] = scope.entry_task_id
                else:
                    kwargs["is_start"] = True
            kwargs["nested"] = scope.nested
            self.create(unit, machine, language, kwargs, taken, scope)
        if scope.items:
            start_unit.head.lane_processor = machine
        edge_labels: dict[tuple[str, str], list[str]] = {}
        for edge in graph.edges:
            if edge.label:
                edge_labels.setdefault((edge.source, edge.target), []).append(edge.label)
        for unit in units:
            unit.head.predecessors = {p.tail.task_id: p.names[0] for p in preds[id(unit)]}
            unit.tail.successors = {name: s.head.task_id for s in succs[id(unit)] for name in s.names}
            unit.tail.exclusive_successors = [
                s.head.task_id for s in succs[id(unit)] if preds[id(s)] == [unit]]
            for target in succs[id(unit)]:
                unit.tail >> target.head
                label = _edge_label(edge_labels, unit.names, target.names)
                if label:  # why the edge exists (a Choice rule, Default, a Catch), as the state machine says
                    from airflow.sdk import Label

                    # on the task-to-task edge itself: ``tail >> Label >> head`` would re-aim an edge
                    # between TaskGroups at the whole groups (every root/leaf of them)
                    Label(label).add_edge_info(unit.tail.dag, unit.tail.task_id, target.head.task_id)
            if not scope.nested:
                unit.tail.ends_execution = any(state_ends_execution(machine["States"][n]) for n in unit.names)
        return of, start_unit

    def create(self, unit: _Unit, machine: dict[str, Any], language: str, kwargs: dict[str, Any],
               taken: set[str], scope: _Scope) -> None:
        name = unit.names[0]
        state = machine["States"][name]
        ql = state.get("QueryLanguage", language)
        common = dict(kwargs, query_language=ql, state_machine_name=self.definition.name)
        room = MAX_TASK_ID - len(_current_prefix())
        if unit.kind == "region":
            from asl_airflow.airflow.composite import AslRegionOperator  # only machines with loops pay for it

            suffix = "_loop" if len(unit.names) > 1 else ""
            task = AslRegionOperator(task_id=id_label(name + suffix, taken, room), members=unit.names,
                                     machine_states=machine["States"], **self.aws, **common)
            unit.head = unit.tail = task
        elif unit.kind == "state":
            cls = AslTaskOperator if state["Type"] == "Task" else AslStateOperator
            extra = self.aws if state["Type"] == "Task" else {}
            task = cls(task_id=id_label(name, taken, room), state_name=name, state=state, **extra, **common)
            unit.head = unit.tail = task
        else:
            self.composite(unit, name, state, common, taken, scope)

    def composite(self, unit: _Unit, name: str, state: dict[str, Any], common: dict[str, Any],
                  taken: set[str], scope: _Scope) -> None:
        from airflow.sdk import TaskGroup, XComArg, task_group

        from asl_airflow.airflow.composite import AslEntryOperator, AslJoinOperator

        prefix = _current_prefix()
        room = _GROUP_ID_BUDGET - len(prefix)
        rerooted = room < _MIN_GROUP_LABEL
        group_id = id_label(name, taken, min(room, 80) if not rerooted else min(80, MAX_TASK_ID - len(prefix) - 20))
        ids = {"start": "start", "join": "join", "items": "items", "branch": "branch_"}
        if rerooted:
            root = self._root_token(name, prefix + group_id)
            ids = {"start": f"{root}.start", "join": f"{root}.join", "items": f"{root}_items",
                   "branch": f"{root}_branch_"}
            self.root_taken.update([ids["items"], *(f"{root}_branch_{i + 1}" for i in range(len(
                state.get("Branches") or [])))])
        join_kwargs = {k: v for k, v in common.items() if k not in ("is_start", "entry_task_id", "trigger_rule")}
        with TaskGroup(group_id, tooltip=f"{state['Type']} state {name}", group_display_name=name,
                       prefix_group_id=not rerooted):
            entry = AslEntryOperator(task_id=ids["start"], state_name=name, state=state, task_display_name=name,
                                     **self.aws, **common)
            tails: list[dict[str, str]] = []  # per branch (one for Map's items): state name -> its last task
            starts: list[str] = []
            item_head: str | None = None
            if state["Type"] == "Parallel":
                heads = []
                before = set(entry.dag.task_dict)
                for index, branch in enumerate(state["Branches"]):
                    with TaskGroup(f"{ids['branch']}{index + 1}", tooltip=f"branch {index + 1} of {name}",
                                   group_display_name=f"branch {index + 1}"):
                        of, start = self.render(branch, _Scope(entry.task_id, True, scope.mapped, scope.extra))
                    entry >> start.head
                    heads.append(start.head.task_id)
                    tails.append({n: u.tail.task_id for n, u in of.items()})
                    starts.append(branch["StartAt"])
                entry.branch_starts = heads
                # the first branch to fail stops the others (composite.py): every task inside watches
                # the branches' own state tasks (a nested Parallel/Map through its join, so that a
                # failure it catches does not count); mapped alike when the Parallel is in a Map's items
                watch = {"task_ids": sorted({t for b in tails for t in b.values()}), "mapped": scope.mapped}
                for task_id in sorted(set(entry.dag.task_dict) - before):
                    entry.dag.task_dict[task_id].stop_watch.append(watch)
            else:
                proc = processor(state)
                concurrency = state.get("MaxConcurrency")
                item_extra = dict(scope.extra)
                if isinstance(concurrency, int) and concurrency > 0:
                    item_extra["max_active_tis_per_dagrun"] = concurrency
                found: dict[str, Any] = {}

                @task_group(group_id=ids["items"], tooltip=f"the items of {name}, one mapped group per item",
                            group_display_name="items")
                def items(lane: Any) -> None:
                    scope_of_items = _Scope(entry.task_id, True, True, item_extra, items=True)
                    found["of"], found["start"] = self.render(proc, scope_of_items)

                items.expand(lane=XComArg(entry))
                tails.append({n: u.tail.task_id for n, u in found["of"].items()})
                starts.append(proc["StartAt"])
                item_head = found["start"].head.task_id
            join = AslJoinOperator(task_id=ids["join"], entry_task_id=entry.task_id, branch_tails=tails,
                                   branch_starts=starts, mapped_items=item_head is not None, item_head=item_head,
                                   state_name=name, state=state, task_display_name=f"{name} (join)",
                                   **self.aws, **join_kwargs)
            upstream = {task_id for branch_tails in tails for task_id in branch_tails.values()}
            for task_id in sorted(upstream | ({item_head} if item_head else set())):
                entry.dag.get_task(task_id) >> join
        unit.head, unit.tail = entry, join

    def _root_token(self, name: str, group_id: str) -> str:
        """The DAG-wide token a re-rooted group names its children after: readable (the state name,
        cut) and unique (a hash of the group's own id, which Airflow keeps unique); registered so
        that no top-level label, other token or task already in the DAG can take it."""
        from airflow.sdk.definitions._internal.contextmanager import DagContext

        dag = DagContext.get_current()
        existing = set(dag.task_dict) | set(dag.task_group.used_group_ids) if dag is not None else set()
        base = f"{id_label(name, None, 200)[:32].rstrip('_-') or 'state'}_{short_hash(group_id)}"
        token, n = base, 2
        while token in self.root_taken or any(t == token or t.startswith((f"{token}.", f"{token}_"))
                                              for t in existing if t):
            token, n = f"{base}_{n}", n + 1
        self.root_taken.add(token)
        return token


def _edge_label(edge_labels: dict[tuple[str, str], list[str]], sources: list[str], targets: list[str]) -> str:
    """The Airflow edge's label: the labels of the ASL transitions it stands for (``$.x > 5``,
    ``Default``, ``catch: States.ALL``), joined when several lead the same way; "" for plain ``Next``."""
    labels: list[str] = []
    for source in sources:
        for target in targets:
            labels.extend(x for x in edge_labels.get((source, target), ()) if x not in labels)
    return " | ".join(labels)


def state_ends_execution(state: dict[str, Any]) -> bool:
    return state["Type"] == "Succeed" or (state["Type"] != "Fail" and state.get("End") is True)


def compile_states(
    definition: Definition,
    *,
    aws_conn_id: str = "aws_default",
    region_name: str | None = None,
    task_kwargs: dict[str, Any] | None = None,
) -> dict[str, AslStateOperator]:
    """Create the machine's tasks in the current DAG/TaskGroup context; returns state name -> first task."""
    check_compilable(definition)
    from airflow.sdk.definitions._internal.contextmanager import DagContext

    dag = DagContext.get_current()
    before = set(dag.task_dict) if dag is not None else set()
    compiler = _Compiler(definition, aws_conn_id, region_name, task_kwargs)
    of, _ = compiler.render(definition.document, _Scope())
    timeout = execution_timeout_seconds(definition.document)
    if timeout and dag is not None:  # every state task checks the execution's deadline before it runs
        for task_id in set(dag.task_dict) - before:
            dag.task_dict[task_id].execution_timeout_seconds = timeout
    return {name: unit.head for name, unit in of.items()}


def execution_timeout_seconds(document: dict[str, Any]) -> float | None:
    """The state machine's own TimeoutSeconds (the whole execution's bound), if any; capped at
    AWS's largest (99,999,999 s) so that no date computed from it can overflow."""
    value = document.get("TimeoutSeconds")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(min(value, 99_999_999))
    return None
