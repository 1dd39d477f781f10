"""Wall time on a real deployment: a compiled 20-state machine against a hand-written DAG, and the
time ``asl-airflow run --engine airflow`` takes for a one-state machine.

1. On a LocalExecutor deployment on PostgreSQL (``tests/deployment/deployment_harness.py``: scheduler,
   dag-processor, triggerer and api-server as separate processes), the same work two ways, in one
   run, the two DAGs taking turns (one run at a time, REPEAT runs each): ``asl_chain``, a machine
   of 20 Pass states each adding 1 to ``$.n`` (``States.MathAdd``), compiled by ``asl_dag``; and
   ``hand_chain``, 20 ``@task`` functions each adding 1 to ``n`` and returning the dict (XCom), the
   DAG a user would write by hand. Wall time = the DAG run's end minus its start, from the REST
   API. Prints the medians and the ratio (goal <= 1.1x).
2. ``asl-airflow run FILE --engine airflow`` on a one-Pass machine, REPEAT times after one warm-up
   (the migrated template DB is cached): median wall time (goal under 5 s).

Run: ``make bench`` or ``PYTHONPATH=. .venv/bin/python bench/deployment.py [REPEAT]``; skips with
the reason when PostgreSQL is not reachable (part 2 still runs).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "deployment"))

from deployment_harness import (  # noqa: E402 - the harness folder is not a package
    Deployment,
    create_database,
    drop_database,
    postgres_missing,
    write_machine_dag,
)

STATES = 20

ASL_CHAIN = {
    "Comment": f"{STATES} Pass states, each adding 1 to $.n",
    "StartAt": "S01",
    "States": {
        f"S{i:02d}": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"},
                      **({"Next": f"S{i + 1:02d}"} if i < STATES else {"End": True})}
        for i in range(1, STATES + 1)
    },
}

HAND_CHAIN = f'''\
"""The same work written by hand: {STATES} tasks, each adding 1 to n and returning the dict (XCom)."""
from airflow.sdk import dag, get_current_context, task


@task
def first():
    return {{"n": get_current_context()["dag_run"].conf.get("n", 0) + 1}}


@task
def step(data):
    return {{"n": data["n"] + 1}}


@dag(dag_id="hand_chain", schedule=None, catchup=False)
def hand_chain():
    data = first()
    for i in range(2, {STATES} + 1):
        data = step.override(task_id=f"S{{i:02d}}")(data)


hand_chain()
'''


def _seconds(run: dict) -> float:
    start, end = (datetime.fromisoformat(run[k].replace("Z", "+00:00")) for k in ("start_date", "end_date"))
    return (end - start).total_seconds()


def deployed(repeat: int) -> None:
    reason = postgres_missing()
    if reason:
        print(f"deployment bench skipped: {reason}")
        return
    with tempfile.TemporaryDirectory(prefix="asl-bench-deploy-") as tmp:
        workdir = Path(tmp)
        dags = workdir / "dags"
        dags.mkdir()
        write_machine_dag(dags, "asl_chain", ASL_CHAIN)
        (dags / "hand_chain.py").write_text(HAND_CHAIN)
        database = f"asl_bench_{os.getpid()}"
        create_database(database)
        deployment = Deployment("LocalExecutor", workdir, database, dags)
        try:
            deployment.home.mkdir(parents=True)
            t0 = time.monotonic()
            deployment.airflow("db", "migrate")
            deployment.start()
            deployment.wait_for_dags(["asl_chain", "hand_chain"])
            print(f"deployment up in {time.monotonic() - t0:.0f} s (migrate + start, LocalExecutor on PostgreSQL)")
            times: dict[str, list[float]] = {"asl_chain": [], "hand_chain": []}
            for i in range(repeat + 1):  # the first round warms up both (DAG versions, pools)
                for dag_id in ("asl_chain", "hand_chain") if i % 2 == 0 else ("hand_chain", "asl_chain"):
                    run = deployment.trigger(dag_id, {"n": 0})
                    deployment.wait_for_runs([run], timeout=600)
                    body = deployment.api("GET", f"/dags/{dag_id}/dagRuns/{run.run_id}")[1]
                    if run.state != "success":
                        raise SystemExit(f"{dag_id} run {run.run_id} ended {run.state}:\n"
                                         f"{deployment.log_tail('scheduler')}")
                    if i:
                        times[dag_id].append(_seconds(body))
        finally:
            deployment.stop()
            drop_database(database)
    asl, hand = statistics.median(times["asl_chain"]), statistics.median(times["hand_chain"])
    print(f"{STATES}-state machine vs hand-written DAG ({STATES} tasks), LocalExecutor, {repeat} runs each:")
    print(f"  asl_chain  median {asl:6.1f} s  {[round(t, 1) for t in times['asl_chain']]}")
    print(f"  hand_chain median {hand:6.1f} s  {[round(t, 1) for t in times['hand_chain']]}")
    print(f"  ratio {asl / hand:.2f}x (goal <= 1.1x)")


def one_state(repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="asl-bench-run-") as tmp:
        machine = Path(tmp) / "one.asl.json"
        machine.write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
        cmd = [sys.executable, "-m", "asl_airflow.cli", "run", str(machine), "--engine", "airflow", "--compact"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        times = []
        for i in range(repeat + 1):
            t0 = time.monotonic()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"asl-airflow run failed:\n{proc.stderr[-3000:]}")
            if i:  # the first one may migrate the template DB
                times.append(time.monotonic() - t0)
    print(f"asl-airflow run --engine airflow, one Pass state: median {statistics.median(times):.1f} s "
          f"{[round(t, 1) for t in times]} (goal < 5 s)")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    one_state(n)
    deployed(n)
