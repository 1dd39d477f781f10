"""States without AWS work are run again after a worker crash (issue 9): Airflow's retries re-run
them, and a Wait run again keeps the moment its first try computed, as Step Functions' timer would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import TaskDeferred
from asl_airflow.airflow.composite import AslRegionOperator
from asl_airflow.airflow.operators import AslStateOperator, reconnect_tries


class _Store(dict):
    def set(self, key, value):
        self[key] = value

    def delete(self, key):
        self.pop(key, None)


def _context(store: _Store, try_number: int, clears: int = 0) -> dict:
    ti = SimpleNamespace(try_number=try_number, dag_id="d", run_id="r", task_id="W", map_index=-1,
                         xcom_push=lambda **kw: None)
    dag_run = SimpleNamespace(triggering_user_name="admin", clear_number=clears, start_date=datetime.now(UTC),
                              conf={}, run_id="r", dag_id="d", consumed_asset_events=None)
    return {"task_state_store": store, "ti": ti, "dag_run": dag_run}


def _deferred_moment(operator: AslStateOperator, context: dict) -> datetime:
    with pytest.raises(TaskDeferred) as info:
        operator.execute(context)
    return info.value.trigger.moment


def test_a_wait_run_again_after_a_crash_keeps_its_moment():
    wait = AslStateOperator(task_id="W", state_name="W", state={"Type": "Wait", "Seconds": 600, "End": True},
                            is_start=True)
    assert wait.retries == reconnect_tries() > 0
    store = _Store()
    first = _deferred_moment(wait, _context(store, 1))
    assert first - datetime.now(UTC) == pytest.approx(timedelta(seconds=600), abs=timedelta(seconds=5))
    # the worker died while deferred; Airflow's retry runs the task again later: same moment
    assert _deferred_moment(wait, _context(store, 2)) == first
    # a redrive (the run cleared after it ended) starts the Wait afresh
    store["asl_progress"]["until"] = (first - timedelta(seconds=100)).isoformat()
    again = _deferred_moment(wait, _context(store, 3, clears=1))
    assert again > first - timedelta(seconds=100)


def test_a_region_with_service_calls_is_not_run_again():
    states = {"Check": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Done?"},
              "Done?": {"Type": "Choice", "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "X"}],
                        "Default": "Check"}}
    assert AslRegionOperator(task_id="loop", members=["Check", "Done?"], machine_states=states).retries == 0
    pure = {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Choice", "Choices": [
        {"Variable": "$.n", "NumericLessThan": 2, "Next": "A"}], "Default": "X"}}
    assert AslRegionOperator(task_id="loop2", members=["A", "B"], machine_states=pure).retries == reconnect_tries()


def test_every_state_task_without_service_calls_gets_crash_reruns():
    from asl_airflow import asl_dag
    from asl_airflow.airflow.operators import AslTaskOperator

    machine = {"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "F"}], "Default": "Par"},
        "Par": {"Type": "Parallel", "Next": "S", "Branches": [
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}}]},
        "S": {"Type": "Succeed"},
        "F": {"Type": "Fail", "Error": "E"}}}
    dag = asl_dag(machine, dag_id="reruns")
    for task in dag.tasks:
        assert not isinstance(task, AslTaskOperator)
        assert task.retries == reconnect_tries(), task.task_id  # P, C, W, S, F, the Parallel's start and join


def test_a_region_holding_service_calls_at_any_depth_is_not_run_again():
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}
    parallel = {"Type": "Parallel", "Next": "Again", "Branches": [{"StartAt": "T", "States": {"T": task}}]}
    mapped = {"Type": "Map", "Next": "Again", "ItemProcessor": {"StartAt": "In", "States": {
        "In": {"Type": "Parallel", "End": True, "Branches": [{"StartAt": "T", "States": {"T": task}}]}}}}
    for inner in (parallel, mapped):
        states = {"Inner": inner, "Again": {"Type": "Choice", "Default": "Inner",
                                            "Choices": [{"Variable": "$.done", "IsPresent": True, "Next": "X"}]}}
        region = AslRegionOperator(task_id=f"loop_{inner['Type']}", members=["Inner", "Again"], machine_states=states)
        assert region.retries == 0
