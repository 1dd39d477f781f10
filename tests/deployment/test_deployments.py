"""Every run ends as Step Functions would, on real deployments (issue 9).

For each executor (LocalExecutor; CeleryExecutor with Redis as broker and PostgreSQL as result
backend) a deployment is started from nothing: a fresh PostgreSQL DB, a fresh local stack (moto),
and ``airflow scheduler``, ``dag-processor``, ``triggerer``, ``api-server`` (+ ``celery worker``)
as separate processes. A mix of runs is started at once through the REST API: short Waits, Choice
poll loops with a 1 s Wait, a Map with MaxConcurrency, Parallels with a 3 s Wait branch, Retry and
Catch against S3, and every platform DAG of ``dags/`` (the scheduled layers start when unpaused and
each quality check's Asset event starts the next one). Each run must agree with the local engine
on the same definition and input: status, output, error, cause, and the history as event types +
state names. Outputs of the platform DAGs hold ids and times of the AWS resources each run creates,
so there the volatile parts are compared as placeholders, and poll loops that wait on AWS count
one round per repeated cycle (AWS itself polls a different number of times on each execution).

``ASL_DEPLOY_REPEAT=N`` (``make deployment`` sets 3) runs each deployment N times from nothing.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest
from asl_airflow import devstack
from deployment_harness import (
    Deployment,
    Run,
    compare,
    link_platform_dags,
    redis_missing,
    write_machine_dag,
)
from machines import MACHINES, PLATFORM_SCHEDULED, PLATFORM_TRIGGERED, RUNS

REPEAT = int(os.environ.get("ASL_DEPLOY_REPEAT", "1"))
#: what LocalExecutor logs when the race of issue 9 item 1 fails a task
RACE = "the task instance's state attribute is queued"

pytestmark = pytest.mark.timeout(1200)


def _unique(cases):
    seen, out = set(), []
    for dag_id, conf in cases:
        key = (dag_id, json.dumps(conf, sort_keys=True))
        if key not in seen:
            seen.add(key)
            out.append((dag_id, conf))
    return out


@pytest.mark.parametrize("repeat", range(REPEAT), ids=lambda i: f"round{i + 1}")
@pytest.mark.parametrize("executor", ["LocalExecutor", "CeleryExecutor"])
def test_mixed_runs_agree_with_the_local_engine(executor, repeat, pg_template, tmp_path):
    if executor == "CeleryExecutor" and (reason := redis_missing()):
        pytest.skip(reason)
    started = time.monotonic()
    stack = devstack.start(log_dir=tmp_path)
    dags = tmp_path / "dags"
    dags.mkdir()
    for dag_id, machine in MACHINES.items():
        write_machine_dag(dags, dag_id, machine)
    platform = link_platform_dags(dags)
    assert set(platform) == set(PLATFORM_SCHEDULED) | set(PLATFORM_TRIGGERED)
    deployment = Deployment(executor, tmp_path, pg_template(f"{executor.lower()}_{repeat}"), dags,
                            extra_env=stack.env())
    try:
        # the reference first: the platform machines touch the same AWS resources as the deployed runs
        cases = _unique(RUNS) + [(dag_id, {}) for dag_id in platform]
        references = {(dag_id, json.dumps(conf, sort_keys=True)): ref
                      for (dag_id, conf), ref in zip(cases, deployment.references(cases), strict=True)}
        deployment.start()
        deployment.wait_for_dags([*MACHINES, *platform])
        runs = [deployment.trigger(dag_id, conf) for dag_id, conf in RUNS]
        runs += [deployment.trigger(dag_id) for dag_id in PLATFORM_TRIGGERED]

        def chain_started() -> list[Run]:
            found = []
            for dag_id in PLATFORM_SCHEDULED:
                listed = deployment.runs_of(dag_id)
                if listed:
                    found.append(Run(dag_id, listed[0]["dag_run_id"], {}))
            return found if len(found) == len(PLATFORM_SCHEDULED) else []

        deadline = time.monotonic() + 600
        while True:  # the layers start one after the other as each one's quality check passes
            deployment.wait_for_runs(runs, timeout=10)
            chain = chain_started()
            if chain or time.monotonic() > deadline:
                break
        runs += chain
        deployment.wait_for_runs(runs, timeout=max(deadline - time.monotonic(), 30))
        results = deployment.results(runs)
        plugin_errors = deployment.api("GET", "/plugins/importErrors")[1]
        plugins = deployment.api("GET", "/plugins")[1]
    finally:
        deployment.stop()
        devstack.stop(stack.pid)
    logs = deployment.logs()
    elapsed = time.monotonic() - started

    disagreements = {}
    for run, result in zip(runs, results, strict=True):
        reference = references[(run.dag_id, json.dumps(run.conf or {}, sort_keys=True))]
        problems = compare(reference, result, volatile=run.dag_id in platform)
        states = Counter(s["status"] for s in result.get("states", []))
        if states.get("upstream_failed"):
            problems.append(f"upstream_failed tasks: {states}")
        if problems:
            disagreements[f"{run.dag_id} {run.run_id} {run.conf}"] = problems
    agree = len(runs) - len(disagreements)
    races = logs.count(RACE)
    print(f"\n{executor} round {repeat + 1}: {agree} of {len(runs)} runs agree with the local engine "
          f"({len(platform)} platform DAGs); {races} executor/queued races logged; {elapsed:.0f} s")
    assert len(runs) >= 20
    assert not disagreements, json.dumps(disagreements, indent=1)[:12000]
    # the plugin is declared once (entry point), so the home page shows no plugin import error
    assert plugin_errors.get("total_entries") == 0, plugin_errors
    assert [p["name"] for p in plugins["plugins"]].count("asl_airflow") == 1, plugins
    assert "already registered" not in logs
