"""Run a DAG from the dags folder once with ``dag.test()`` and read it back as an execution.

Used by ``make run`` / ``asl-airflow local run``, the ``--engine airflow`` runner and the tests.
The Airflow environment (AIRFLOW_HOME, dags folder, connection) must be set before this module
is imported, because Airflow reads its configuration at import time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any


def migrate_db() -> None:
    """Create or upgrade the metadata DB (idempotent; a few seconds the first time)."""
    from airflow.configuration import conf

    url = conf.get("database", "sql_alchemy_conn")
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def load_dag(dag_id: str) -> Any:
    """The DAG from the configured dags folder; import errors are raised with their messages."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag()
    if dag_id not in bag.dags:
        problems = "\n".join(f"{path}: {err}" for path, err in bag.import_errors.items())
        known = ", ".join(sorted(bag.dags)) or "none"
        details = f"\nimport errors:\n{problems}" if problems else ""
        raise SystemExit(f"DAG {dag_id!r} not found (DAGs: {known}){details}")
    return bag.dags[dag_id]


def test_dag(dag_id: str, conf: Any = None, with_history: bool = True) -> dict[str, Any]:
    """Run the DAG once through ``dag.test()`` and return the execution view (status, output, history, states)."""
    from asl_airflow.airflow.results import execution_result

    dag = load_dag(dag_id)
    from asl_airflow.airflow.operators import run_conf

    dag_run = dag.test(run_conf=run_conf(conf))
    result = execution_result(dag, dag_run, with_history=with_history)
    result["dag_id"] = dag_id
    result["run_id"] = dag_run.run_id
    return result
