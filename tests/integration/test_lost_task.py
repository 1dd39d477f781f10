"""A state task that failed without recording why (its worker killed after its last try) fails the
execution, even when the DAG run's leaves let the run itself end "success": the execution view never
says SUCCEEDED with a null output for a run whose state did not finish (issue 9)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

MACHINE = {"StartAt": "First", "States": {"First": {"Type": "Pass", "Next": "Second"},
                                          "Second": {"Type": "Pass", "End": True}}}

CHILD = textwrap.dedent('''
    import json
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import delete, select
    from asl_airflow.airflow.results import execution_result
    from asl_airflow.airflow.testing import load_dag
    dag = load_dag("asl_machine")
    dag.test()
    with create_session() as session:
        dr = session.scalars(select(DagRun).filter_by(dag_id="asl_machine")).one()
        before = execution_result(dag, dr, with_history=False)["status"]
        # "Second" lost: its worker died after the last try, before it pushed its record
        session.execute(delete(XComModel).where(XComModel.task_id == "Second"))
        ti = session.scalars(select(TaskInstance).filter_by(dag_id="asl_machine", task_id="Second")).one()
        ti.state = TaskInstanceState.FAILED
        session.commit()
        print(json.dumps({"before": before, "run_state": str(dr.state),
                          "after": execution_result(dag, dr, with_history=False)}, default=str))
''')


def test_a_state_task_lost_without_a_record_fails_the_execution(tmp_path: Path, machine_home) -> None:
    _, env = machine_home(tmp_path, MACHINE)
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=600)
    assert proc.stdout.strip(), proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["before"] == "SUCCEEDED"
    assert out["run_state"] == "success"  # the DAG run itself still says success
    assert out["after"]["status"] == "FAILED", out
    assert out["after"]["error"] == "States.Runtime" and "Second" in out["after"]["cause"]
    assert out["after"]["output"] is None
