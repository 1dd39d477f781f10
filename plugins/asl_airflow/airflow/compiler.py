"""ASL -> Airflow tasks: one task per state, the Airflow graph mirroring the state machine.

Reads the neutral :class:`~asl_airflow.asl.graph.StateGraph` and renders it into the current DAG
or TaskGroup (cosmos-style: parse -> graph -> render -> operators). Trigger rules encode "only
the states Step Functions would enter run": a state reachable from several states runs when any
of them succeeded and chose it; every other task ends skipped.
"""

from __future__ import annotations

from typing import Any

from asl_airflow.airflow.operators import AslStateOperator, AslTaskOperator
from asl_airflow.asl.definition import Definition
from asl_airflow.asl.errors import AslValidationError
from asl_airflow.asl.graph import StateGraph, task_id_for

COMPILED_TYPES = frozenset({"Task", "Pass", "Choice", "Wait", "Succeed", "Fail"})  # Parallel, Map: issue 4


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def check_compilable(definition: Definition) -> None:
    """Reject, with file and pointer, what this compiler cannot render yet (instead of failing at run time)."""
    graph = StateGraph.from_machine(definition.document)
    problems = []
    for name, state in definition.states.items():
        if state["Type"] not in COMPILED_TYPES:
            problems.append(
                f"{definition.source}:{_pointer('States', name, 'Type')}: {state['Type']} states are not "
                "compiled to Airflow yet; run this machine with the local engine (asl-airflow run --engine local)"
            )
        elif state["Type"] == "Task":
            from asl_airflow.integrations import resolve

            try:
                resolve(state["Resource"])
            except Exception as exc:
                problems.append(f"{definition.source}:{_pointer('States', name, 'Resource')}: {exc}")
    for loop in graph.loops():
        problems.append(
            f"{definition.source}:{_pointer('States', loop[0])}: the states {', '.join(loop)} form a loop; "
            "loops are not compiled to Airflow yet; run this machine with the local engine"
        )
    if problems:
        raise AslValidationError(problems)


def compile_states(
    definition: Definition,
    *,
    aws_conn_id: str = "aws_default",
    region_name: str | None = None,
    task_kwargs: dict[str, Any] | None = None,
) -> dict[str, AslStateOperator]:
    """Create one task per state in the current DAG/TaskGroup context; returns state name -> task."""
    check_compilable(definition)
    graph = StateGraph.from_machine(definition.document)
    taken: set[str] = set()
    ids = {name: task_id_for(name, taken) for name in definition.states}
    tasks: dict[str, AslStateOperator] = {}
    for name, state in definition.states.items():
        preds = graph.predecessors(name)
        kwargs: dict[str, Any] = dict(task_kwargs or {})
        kwargs.update(
            task_id=ids[name],
            state_name=name,
            state=state,
            query_language=state.get("QueryLanguage", definition.query_language),
            state_machine_name=definition.name,
            is_start=name == definition.start_at,
        )
        if len(preds) > 1:
            kwargs["trigger_rule"] = "none_failed_min_one_success"
        if state["Type"] == "Task":
            tasks[name] = AslTaskOperator(aws_conn_id=aws_conn_id, region_name=region_name, **kwargs)
        else:
            tasks[name] = AslStateOperator(**kwargs)
    # wire with the final task ids (a TaskGroup prefixes them with its group id)
    for name, task in tasks.items():
        succs = graph.successors(name)
        task.predecessors = {tasks[p].task_id: p for p in graph.predecessors(name)}
        task.successors = {s: tasks[s].task_id for s in succs}
        task.exclusive_successors = [tasks[s].task_id for s in succs if graph.predecessors(s) == [name]]
        for target in succs:
            task >> tasks[target]
        # where the execution can end SUCCEEDED: what runs "after the machine succeeded" hangs here
        task.ends_execution = state_ends_execution(definition.states[name])
    return tasks


def state_ends_execution(state: dict[str, Any]) -> bool:
    return state["Type"] == "Succeed" or (state["Type"] != "Fail" and state.get("End") is True)
