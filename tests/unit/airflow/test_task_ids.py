"""Task ids: every valid definition compiles, whatever its state names and depth (issue 10).

Airflow's task id is the whole dotted TaskGroup path, at most 250 characters of ``[A-Za-z0-9_.-]``,
and a TaskGroup id may not contain ``.``; ids must also stay the same from one parse to the next,
because Airflow keys a task's history by them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from airflow.sdk import DAG
from asl_airflow import AslTaskGroup, asl_dag
from asl_airflow.asl.graph import id_label

KEY = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")


def machine(**states: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


def pass_(**fields: Any) -> dict[str, Any]:
    return {"Type": "Pass", **({"End": True} if "Next" not in fields else {}), **fields}


def parallel(*branches: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"Type": "Parallel", "Branches": list(branches), **({"End": True} if "Next" not in fields else {}),
            **fields}


def nested(depth: int, width: int = 80) -> dict[str, Any]:
    """``depth`` Parallels inside each other, every name ``width`` characters long."""
    def name(label: str) -> str:
        return (label + "." + "n" * width)[:width]

    inner = machine(**{name("leaf"): pass_()})
    for level in range(depth):
        inner = machine(**{name(f"P{level}"): parallel(inner, machine(**{name(f"S{level}"): pass_()}))})
    return inner


def ids(definition: dict[str, Any]) -> dict[str, str]:
    dag = asl_dag(definition, dag_id="ids")
    return {t.task_id: t.task_display_name for t in dag.tasks}


def assert_valid(task_ids: Any) -> None:
    for task_id in task_ids:
        assert KEY.match(task_id), task_id


@pytest.mark.parametrize("neighbour", ["P.join", "P.start", "P.branch_1", "P.branch_1.B"])
def test_a_state_named_like_a_parallel_part(neighbour: str) -> None:
    doc = machine(P=parallel(machine(B=pass_()), Next=neighbour), **{neighbour: pass_()})
    found = ids(doc)
    assert found["P.start"] == "P" and found["P.join"] == "P (join)" and found["P.branch_1.B"] == "B"
    neighbour_id = next(task_id for task_id, name in found.items() if name == neighbour)
    assert "." not in neighbour_id


def test_a_state_named_like_a_map_part() -> None:
    doc = machine(M={"Type": "Map", "Next": "M.items.B", "ItemProcessor": machine(B=pass_())},
                  **{"M.items.B": pass_()})
    found = ids(doc)
    assert found["M.items.B"] == "B" and found["M_items_B"] == "M.items.B"


@pytest.mark.parametrize("kind", ["Parallel", "Map"])
def test_a_dotted_parallel_or_map_name(kind: str) -> None:
    inner = machine(X=pass_())
    state = parallel(inner) if kind == "Parallel" else {"Type": "Map", "ItemProcessor": inner, "End": True}
    dag = asl_dag(machine(**{"a.b": state}), dag_id="ids")
    assert dag.get_task("a_b.start").task_display_name == "a.b"
    group = dag.task_group.children["a_b"]
    assert group.group_display_name == "a.b" and "a.b" in group.tooltip


def test_names_that_sanitize_alike_get_suffixes_in_definition_order() -> None:
    found = ids(machine(**{"a b": pass_(Next="a_b"), "a_b": pass_(Next="a-b!"), "a-b!": pass_()}))
    assert found == {"a_b": "a b", "a_b_2": "a_b", "a-b": "a-b!"}


@pytest.mark.parametrize("depth,width", [(3, 80), (6, 80), (23, 80), (23, 4)])
def test_deep_nesting_and_long_names_fit_airflow(depth: int, width: int) -> None:
    found = ids(nested(depth, width))
    assert_valid(found)
    assert len(found) == 3 * depth + 1  # start, join and one side state per level, and the leaf
    assert ids(nested(depth, width)) == found  # stable from one parse to the next


def test_deep_nesting_inside_a_task_group_of_a_larger_dag() -> None:
    with DAG("outer", schedule=None) as dag:
        AslTaskGroup(nested(8), group_id="a_rather_long_group_id_for_the_embedded_machine")
        AslTaskGroup(nested(8), group_id="the_same_machine_twice")
    assert_valid(dag.task_dict)
    assert len(dag.task_dict) == 2 * (3 * 8 + 1)


def test_compiled_deep_dag_serializes() -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    dag = asl_dag(nested(8), dag_id="ids")
    back = DagSerialization.from_dict(json.loads(json.dumps(DagSerialization.to_dict(dag))))
    assert set(back.task_dict) == set(dag.task_dict)


def test_id_label_cuts_long_names_with_a_hash() -> None:
    taken: set[str] = set()
    first = id_label("x" * 80 + "1", taken, 40)
    second = id_label("x" * 80 + "2", taken, 40)
    assert len(first) == len(second) == 40 and first != second
    assert id_label("x" * 80 + "1", None, 40) == first  # the same name gives the same label
    assert id_label("...", None) == "state"
