"""On Airflow, the first Parallel branch to fail stops the others, and the machine's TimeoutSeconds holds.

The real sample is AWS's "either-or parallel" pattern (``tests/samples/either_or_parallel.asl.json``):
a 15 s timeout branch and two 5 s poll loops (loop regions), where the first branch to fail ends the
Parallel. Before, the branch tasks all ran to their end (the poll loops never end: the run never
ended). ``dag.test()`` runs one task at a time, so there a branch's Waits are rescheduled instead of
deferred (``operators.inline_triggers``); real deployments defer on a trigger that also watches the
siblings. Each run must give the local engine's status, output and history event types.

All runs share one child process (``dag.test()`` on a SQLite metadata DB of its own), whose output is
also searched for the ``XCom not found`` errors every join used to log for the branch tasks a Choice
skipped (issue 9 item 6).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import asl_airflow
import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "either_or_parallel.asl.json"

TIMEOUT = {"TimeoutSeconds": 2, "StartAt": "Nap", "States": {
    "Nap": {"Type": "Wait", "Seconds": 6, "Next": "After"},
    "After": {"Type": "Pass", "End": True}}}

_RUNS = textwrap.dedent("""
    import json, sys, time
    from asl_airflow.airflow.operators import run_conf
    from asl_airflow.airflow.results import execution_result
    from asl_airflow.airflow.testing import load_dag

    out = []
    for dag_id, conf in json.loads(sys.argv[1]):
        dag = load_dag(dag_id)
        started = time.monotonic()
        run = dag.test(run_conf=run_conf(conf))
        result = execution_result(dag, run)
        result["seconds"] = round(time.monotonic() - started, 1)
        out.append(result)
    print("RESULTS " + json.dumps(out, default=str))
""")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from asl_airflow.devstack import airflow_env
    from asl_airflow.runner import _template_db

    home = tmp_path_factory.mktemp("race")
    dags = home / "dags"
    dags.mkdir()
    shutil.copy(SAMPLE, dags / "either_or.asl.json")
    (dags / "timeout.asl.json").write_text(json.dumps(TIMEOUT))
    (dags / "machines.py").write_text(
        "from pathlib import Path\nfrom asl_airflow import asl_dag\n\nhere = Path(__file__).parent\n"
        "either_or = asl_dag(here / 'either_or.asl.json', dag_id='either_or')\n"
        "timeout = asl_dag(here / 'timeout.asl.json', dag_id='timeout')\n")
    env = {**os.environ, **airflow_env(home), "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
           "AIRFLOW__ASL_AIRFLOW__STOP_POLL_INTERVAL": "0.5"}
    shutil.copy(_template_db(env), home / "airflow.db")
    plan = [["either_or", {"Process1ToComplete": True}], ["either_or", {"Process2ToComplete": True}],
            ["timeout", {}]]
    proc = subprocess.run([sys.executable, "-c", _RUNS, json.dumps(plan)], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULTS "))
    results = json.loads(line.removeprefix("RESULTS "))
    return {"process1": results[0], "process2": results[1], "timeout": results[2],
            "log": proc.stdout + proc.stderr}


def _types(result: dict[str, Any]) -> list[str]:
    return [e["type"] for e in result["history"]]


@pytest.mark.parametrize(("key", "input_", "winner"), [
    ("process1", {"Process1ToComplete": True}, "States.FauxFailure1"),
    ("process2", {"Process2ToComplete": True}, "States.FauxFailure2"),
])
def test_first_failing_branch_stops_the_others(runs: dict[str, Any], key: str, input_: dict, winner: str) -> None:
    on_airflow = runs[key]
    local = asl_airflow.run(json.loads(SAMPLE.read_text()), input_, engine="local", history=True)
    assert on_airflow["status"] == local["status"] == "SUCCEEDED", on_airflow
    assert on_airflow["output"] == local["output"] == {"Error": winner}
    assert _types(on_airflow) == _types(local)
    assert "WaitStateAborted" in _types(on_airflow)
    states = {s["state"]: s for s in on_airflow["states"]}
    # the 15 s timeout branch was stopped, not waited out, and its Fail state never ran
    assert states["TimeoutWait"]["status"] == "skipped"
    assert states["Ran out of Time"]["status"] in ("skipped", "upstream_failed")
    # the poll loop of the losing process never ran to its end either (it polls forever)
    loser = "Get Process2 Completion Status" if winner.endswith("1") else "Get Process1 Completion Status"
    assert states[loser]["status"] == "skipped"


def test_joins_log_no_missing_xcom(runs: dict[str, Any]) -> None:
    assert "XCom not found" not in runs["log"]


def test_machine_timeout_seconds_ends_the_run_timed_out(runs: dict[str, Any]) -> None:
    result = runs["timeout"]
    local = asl_airflow.run(TIMEOUT, {}, engine="local", history=True)
    assert (result["status"], result["error"]) == ("TIMED_OUT", "States.Timeout"), result
    assert (local["status"], local["error"]) == ("TIMED_OUT", "States.Timeout")
    assert _types(result) == ["ExecutionStarted", "WaitStateEntered", "ExecutionTimedOut"]
    assert _types(local) == _types(result)
    nap = next(s for s in result["states"] if s["state"] == "Nap")
    assert nap["status"] == "failed" and nap["duration"] < 6
