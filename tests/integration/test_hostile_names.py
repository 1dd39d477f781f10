"""State names and depths that once broke the compiler run on Airflow as on the reference interpreter.

A Parallel ``P`` beside states named ``P.join``/``P.start``, a Map named ``a.b`` beside ``a.b.items``,
and Parallels nested deep enough with 80-character names that their groups re-root their task ids
(issue 10): the joins must still find every branch's records by task id.
"""

from __future__ import annotations

from typing import Any

import asl_airflow

LONG = "L" * 70


def _nested(depth: int) -> dict[str, Any]:
    inner: dict[str, Any] = {"StartAt": f"{LONG} leaf", "States": {
        f"{LONG} leaf": {"Type": "Pass", "Parameters": {"depth": depth, "in.$": "$"}, "End": True}}}
    for level in range(depth):
        name = f"{LONG} {level:02d}.join"
        side = f"{LONG} {level:02d}.side"
        inner = {"StartAt": name, "States": {name: {"Type": "Parallel", "End": True, "Branches": [
            inner, {"StartAt": side, "States": {side: {"Type": "Pass", "Result": level, "End": True}}}]}}}
    return inner


HOSTILE = {
    "StartAt": "P",
    "States": {
        "P": {"Type": "Parallel", "Next": "P.join", "Branches": [
            {"StartAt": "P.branch_1.B", "States": {"P.branch_1.B": {"Type": "Pass", "Result": 1, "End": True}}},
            {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "Result": 2, "End": True}}}]},
        "P.join": {"Type": "Pass", "Next": "P.start"},
        "P.start": {"Type": "Pass", "Result": [1, 2], "Next": "a.b"},
        "a.b": {"Type": "Map", "Next": "a.b.items", "ItemProcessor": {
            "StartAt": "a.b.items.X", "States": {"a.b.items.X": {"Type": "Pass", "End": True}}}},
        "a.b.items": {"Type": "Pass", "Next": "Deep"},
        "Deep": {"Type": "Parallel", "End": True, "Branches": [_nested(4)]},
    },
}


def test_hostile_names_and_depth_run_on_airflow_as_on_the_interpreter():
    local = asl_airflow.run(HOSTILE, {"x": 1}, engine="local", history=True)
    on_airflow = asl_airflow.run(HOSTILE, {"x": 1}, engine="airflow", history=True)
    assert local["status"] == "SUCCEEDED", local
    assert on_airflow["status"] == "SUCCEEDED", on_airflow
    assert on_airflow["output"] == local["output"]
    assert [e["type"] for e in on_airflow["history"]] == [e["type"] for e in local["history"]]
