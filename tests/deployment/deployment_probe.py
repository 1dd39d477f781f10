"""Probe process of the deployment harness, run in a deployment's environment (its DB, dags, stack).

Reads a JSON request on stdin and prints one JSON line:
- ``{"mode": "results", "runs": [[dag_id, run_id], ...]}``: each run read back as an execution
  (``execution_result``: status, output, error, cause, history, task states);
- ``{"mode": "local", "cases": [[dag_id, input], ...]}``: each DAG's own definition (the one it
  was compiled from, substitutions applied, as its docs show it) run on the local engine with the
  same input, against the same AWS endpoint: the reference a deployed run must agree with.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _definition(dag: Any) -> dict[str, Any]:
    doc = dag.doc_md or ""
    start = doc.index("```json\n", doc.index("ASL definition")) + len("```json\n")
    return json.loads(doc[start:doc.index("\n```\n</details>", start)])


def _bag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag()


def results(runs: list[list[str]]) -> list[dict[str, Any]]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from asl_airflow.airflow.results import execution_result
    from sqlalchemy import select

    bag = _bag()
    out = []
    for dag_id, run_id in runs:
        with create_session() as session:
            dag_run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
            if dag_run is None:
                out.append({"dag_id": dag_id, "run_id": run_id, "status": "MISSING"})
                continue
            session.expunge(dag_run)
        result = execution_result(bag.dags[dag_id], dag_run, with_history=True)
        result.update(dag_id=dag_id, run_id=run_id, run_state=str(dag_run.state))
        out.append(result)
    return out


def local(cases: list[list[Any]], serial: list[str]) -> list[dict[str, Any]]:
    """The cases concurrently (the local engine's Waits really sleep), those of ``serial`` DAGs in turn."""
    from concurrent.futures import ThreadPoolExecutor

    import asl_airflow

    bag = _bag()
    definitions = {dag_id: _definition(bag.dags[dag_id]) for dag_id, _ in cases}

    def one(case: list[Any]) -> dict[str, Any]:
        dag_id, conf = case
        return {"dag_id": dag_id, **asl_airflow.run(definitions[dag_id], conf or {}, engine="local", history=True)}

    def in_turn(batch: list[list[Any]]) -> list[dict[str, Any]]:
        return [one(case) for case in batch]

    free = [case for case in cases if case[0] not in serial]
    ordered = [case for case in cases if case[0] in serial]
    with ThreadPoolExecutor(max_workers=8) as pool:
        serial_results = pool.submit(in_turn, ordered)
        free_results = list(pool.map(one, free))
        answers = iter(free_results), iter(serial_results.result())
    return [next(answers[1] if case[0] in serial else answers[0]) for case in cases]


def main() -> None:
    request = json.loads(sys.stdin.read())
    if request["mode"] == "results":
        answer = results(request["runs"])
    elif request["mode"] == "local":
        answer = local(request["cases"], request.get("serial", []))
    else:
        raise SystemExit(f"unknown mode {request['mode']!r}")
    print(json.dumps(answer, default=str))


if __name__ == "__main__":
    main()
