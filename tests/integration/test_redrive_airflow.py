"""Redrive on Airflow: clearing a finished run's failed tasks continues the execution as AWS's
RedriveExecution does. Tasks that succeeded keep their results (a branch that succeeded is not run
again), the failed ones run afresh, and ``$$.Execution.RedriveCount`` is the run's clear count.

The machine's Tasks are mocked (``[asl_airflow] mock_config``): the first run's test case fails
branch B; the redrive's test case would fail branch A if it ran again, and lets B succeed.
Two child processes share one SQLite metadata DB: the first runs ``dag.test()``, the second clears
the failed task instances and the branch tasks the failure stopped (``clear_task_instances``, what
the UI's "Clear" does) and drives the same DAG run on with ``dag.test()``'s own loop.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import asl_airflow

MACHINE = {"StartAt": "Prepare", "States": {
    "Prepare": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "p"},
                "ResultPath": "$.prep", "Next": "Fan"},
    "Fan": {"Type": "Parallel", "ResultPath": "$.fan", "Next": "Count", "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                          "Parameters": {"FunctionName": "a"}, "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                          "Parameters": {"FunctionName": "b"}, "End": True}}}]},
    "Count": {"Type": "Pass", "Parameters": {"redrives.$": "$$.Execution.RedriveCount", "fan.$": "$.fan"},
              "End": True}}}
MOCKS = {"StateMachines": {"fan": {"TestCases": {
    "first": {"Prepare": "Pok", "A": "Aok", "B": "Bfail"},
    "second": {"Prepare": "NotAgain", "A": "Aok2", "B": "Bok"}}}},
    "MockedResponses": {"Pok": {"0": {"Return": "p"}}, "Aok": {"0": {"Return": "a"}},
                        "Aok2": {"0": {"Return": "a2"}}, "Bok": {"0": {"Return": "b"}},
                        "Bfail": {"0": {"Throw": {"Error": "Boom", "Cause": "b broke"}}},
                        "NotAgain": {"0": {"Throw": {"Error": "RanTwice"}}}}}
LOGICAL_DATE = "2026-01-02T03:04:05+00:00"

CHILD = textwrap.dedent('''
    import json, sys, time
    from datetime import datetime
    mode, logical_date = sys.argv[1], datetime.fromisoformat(sys.argv[2])
    from asl_airflow.airflow.testing import load_dag
    from asl_airflow.airflow.results import execution_result
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select
    dag = load_dag("asl_machine")
    if mode == "first":
        dag.test(logical_date=logical_date)
    else:
        from airflow.models.taskinstance import TaskInstance, clear_task_instances
        from airflow.sdk.definitions.dag import _run_task
        from airflow.serialization.serialized_objects import DagSerialization
        from airflow.utils.state import DagRunState, TaskInstanceState
        scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
        with create_session() as session:
            dr = session.scalars(select(DagRun).filter_by(dag_id="asl_machine")).one()
            # the failed tasks, and the branch tasks the failure stopped (they ended skipped: AWS
            # redrives aborted branches too)
            failed = [t for t in dr.get_task_instances(session=session)
                      if t.state in (TaskInstanceState.FAILED, TaskInstanceState.UPSTREAM_FAILED)
                      or (t.state == TaskInstanceState.SKIPPED and t.task_id.startswith("Fan."))]
            clear_task_instances(failed, session)
            session.commit()
        with create_session() as session:
            dr = session.scalars(select(DagRun).filter_by(dag_id="asl_machine")).one()
            dr.dag = scheduler_dag
            dr.state = DagRunState.RUNNING
            session.commit()
            while dr.state == DagRunState.RUNNING:  # dag.test()'s loop, on the existing run
                session.expire_all()
                schedulable, _ = dr.update_state(session=session)
                for s in schedulable:
                    s.try_number += 1
                    s.state = TaskInstanceState.SCHEDULED
                session.commit()
                scheduled = [t for t in dr.get_task_instances(session=session)
                             if t.state == TaskInstanceState.SCHEDULED]
                if not scheduled:
                    time.sleep(0.5)
                for t in scheduled:
                    _run_task(ti=t, task=dag.task_dict[t.task_id], run_triggerer=True)
    with create_session() as session:
        dr = session.scalars(select(DagRun).filter_by(dag_id="asl_machine")).one()
        print(json.dumps(execution_result(dag, dr, with_history=True), default=str))
''')


def _child(home_env: dict[str, str], mode: str, case: str) -> dict:
    env = {**home_env, "AIRFLOW__ASL_AIRFLOW__MOCK_CONFIG_JSON": json.dumps(MOCKS),
           "AIRFLOW__ASL_AIRFLOW__MOCK_STATE_MACHINE": "fan", "AIRFLOW__ASL_AIRFLOW__MOCK_TEST_CASE": case}
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, LOGICAL_DATE], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.stdout.strip(), proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_clearing_the_failed_tasks_redrives_the_execution(tmp_path: Path, machine_home) -> None:
    _, env = machine_home(tmp_path, MACHINE)

    first = _child(env, "first", "first")
    assert first["status"] == "FAILED" and first["error"] == "Boom"

    a_finished = any(e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "A"
                     for e in first["history"])  # else B's failure stopped it (aborted)

    second = _child(env, "redrive", "second")
    assert second["status"] == "SUCCEEDED", second
    # Prepare succeeded before: not run again (its second mock would fail with RanTwice). B failed: it
    # ran again. A ran again only if B's failure had stopped it, as AWS redrives aborted branches.
    assert second["output"] == {"redrives": 1, "fan": ["a" if a_finished else "a2", "b"]}

    # the history is AWS's redriven one: the first execution's events and ExecutionFailed, then
    # ExecutionRedriven, then only what ran again; the same as the local engine's redrive
    def steps(result: dict) -> list[str]:
        out = []
        for event in result["history"]:
            name = next((v["name"] for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)
                         and "name" in v), None)
            out.append(f"{event['type']}:{name}" if name else event["type"])
        return out

    local_first = asl_airflow.run(MACHINE, {}, history=True, mock_config=MOCKS, test_case="first",
                                  state_machine="fan")
    local = asl_airflow.run(MACHINE, {}, history=True, mock_config=MOCKS, test_case="second",
                            state_machine="fan", redrive=local_first)
    assert local["status"] == "SUCCEEDED" and local["output"]["redrives"] == 1
    redriven = steps(second)
    assert redriven[:len(steps(first))] == steps(first)
    assert redriven[len(steps(first))] == "ExecutionRedriven"
    event = second["history"][len(steps(first))]
    assert event["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert [e["id"] for e in second["history"]] == list(range(1, len(redriven) + 1))
    after, local_after = redriven[len(steps(first)) + 1:], steps(local)[len(steps(local_first)) + 1:]
    if a_finished:  # the local engine's branches both ran to their end before B's failure too
        assert after == local_after, (after, local_after)
    assert "TaskStateEntered:Prepare" not in after and "TaskStateEntered:B" in after
