"""The execution view's endpoints on Airflow's own API app, for a run made by ``dag.test()``:
the history equals the local engine's, describe is DescribeExecution-shaped, the page draws one
node per state with the status the run gave it, and only authenticated readers get in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "console_demo.asl.json"
INPUT = {"size": 9, "items": [1, 2, 3]}
PREFIX = "/asl-airflow/executions"
EXPECTED = {
    "Check size": "SUCCEEDED", "Too small": "NOT_RUN", "Score items": "SUCCEEDED", "Score": "SUCCEEDED",
    "Validate": "CAUGHT", "Always fails": "FAILED", "Recover": "SUCCEEDED", "Reject": "NOT_RUN", "Done": "SUCCEEDED",
}


@pytest.fixture(scope="module")
def dags(tmp_path_factory):
    from asl_airflow.runner import _template_db

    url = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    db = Path(url.removeprefix("sqlite:///"))
    if not db.exists():
        shutil.copy(_template_db(dict(os.environ)), db)
    folder = tmp_path_factory.mktemp("console-dags")
    shutil.copy(SAMPLE, folder / "console_demo.asl.json")
    (folder / "console_demo.py").write_text(
        "from pathlib import Path\nfrom asl_airflow import asl_dag\n\n"
        "dag = asl_dag(Path(__file__).with_name('console_demo.asl.json'), dag_id='console_demo')\n"
    )
    return folder


#: one ``dag.test()`` run in a child process (Airflow reads the dags folder from its environment)
_RUN = """
import json, sys
from asl_airflow.airflow.operators import run_conf
from asl_airflow.airflow.results import execution_result
from asl_airflow.airflow.testing import load_dag
dag = load_dag("console_demo")
dag_run = dag.test(run_conf=run_conf(json.loads(sys.argv[1])))
result = execution_result(dag, dag_run, with_history=False)
print(json.dumps({"status": result["status"], "run_id": dag_run.run_id}))
"""


@pytest.fixture(scope="module")
def run(dags) -> dict[str, Any]:
    env = {**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
    done = subprocess.run([sys.executable, "-c", _RUN, json.dumps(INPUT)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.stdout.strip(), done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def api(dags):
    os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = "admin:admin,watcher:viewer"
    from airflow.api_fastapi.app import create_app, get_auth_manager, purge_cached_app
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    client = TestClient(create_app(apps="core"))
    manager = get_auth_manager()
    client.tokens = {  # type: ignore[attr-defined]
        role: manager.generate_jwt(SimpleAuthManagerUser(username=name, role=role))
        for name, role in (("admin", "admin"), ("watcher", "viewer"))
    }
    yield client
    purge_cached_app()


def _get(api, path: str, role: str | None = "viewer"):
    headers = {"Authorization": f"Bearer {api.tokens[role]}"} if role else {}
    return api.get(path, headers=headers)


def _comparable(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "timestamp"} for e in events]


def test_history_equals_the_local_engine(api, run):
    from asl_airflow.runner import run as run_machine

    assert run["status"] == "SUCCEEDED"
    local = run_machine(str(SAMPLE), INPUT, engine="local", history=True, time_scale=0)
    answer = _get(api, f"{PREFIX}/console_demo/{run['run_id']}/history")
    assert answer.status_code == 200, answer.text
    assert _comparable(answer.json()["events"]) == _comparable(local["history"])


def test_describe_is_describe_execution(api, run):
    from asl_airflow.runner import run as run_machine

    answer = _get(api, f"{PREFIX}/console_demo/{run['run_id']}/describe")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    local = run_machine(str(SAMPLE), INPUT, engine="local", history=False, time_scale=0)
    assert body["status"] == "SUCCEEDED"
    assert json.loads(body["output"]) == local["output"]
    assert json.loads(body["input"]) == INPUT
    assert body["stateMachineArn"].startswith("arn:aws:states:") and body["stateMachineArn"].endswith(":console_demo")
    assert body["executionArn"].endswith(":" + body["name"])
    assert body["startDate"] and body["stopDate"] and "error" not in body


def test_page_draws_every_state_with_its_status(api, run):
    import re

    answer = _get(api, f"{PREFIX}/console_demo/{run['run_id']}")
    assert answer.status_code == 200, answer.text
    page = answer.text
    nodes = dict(re.findall(r'data-state="([^"]+)" data-status="([A-Z_]+)"', page))
    expected = {**EXPECTED, "Count": nodes.get("Count")}  # the sibling branch races the failing one
    assert nodes == expected
    assert nodes["Count"] in ("SUCCEEDED", "NOT_RUN")
    assert "catch: States.ALL" in page and "$.size &gt; 5" in page and "Map · 3 iterations" in page
    assert "<script src=" not in page and "http://" not in page.split("<svg", 1)[0]  # nothing from a CDN


def test_only_authenticated_readers(api, run):
    path = f"{PREFIX}/console_demo/{run['run_id']}"
    assert _get(api, path, role=None).status_code == 401
    assert api.get(path, headers={"Authorization": "Bearer not-a-token"}).status_code == 403
    assert _get(api, path + "/history", role=None).status_code == 401
    assert _get(api, path, role="admin").status_code == 200
    assert _get(api, f"{PREFIX}/console_demo/no-such-run").status_code == 404
    diagram = _get(api, "/asl-airflow/definitions/console_demo/diagram.svg")
    assert diagram.status_code == 200 and diagram.headers["content-type"].startswith("image/svg+xml")
    assert 'data-state="Validate"' in diagram.text and "data-status" not in diagram.text
