"""The "ASL execution" view in a real browser: ``airflow standalone`` on a free port, a run of a
machine with Choice, Catch, Map and Parallel, then Debian's Chromium (headless, driven by
playwright-core from npm: no browser download) logs in on Airflow's login page, opens the run's
ASL execution tab and the view, and checks what a user sees against the run.

Skipped, with the reason, where Node.js/npm or Chromium are missing (``.ci/run`` installs Chromium
from Debian's packages). Screenshots are left in the test's tmp dir.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "samples" / "console_demo.asl.json"
INPUT = {"size": 9, "items": [1, 2, 3]}
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
EXPECTED = {
    "Check size": "SUCCEEDED", "Too small": "NOT_RUN", "Score items": "SUCCEEDED", "Score": "SUCCEEDED",
    "Validate": "CAUGHT", "Always fails": "FAILED", "Recover": "SUCCEEDED", "Reject": "NOT_RUN", "Done": "SUCCEEDED",
}
#: the Step Functions console's colours the diagram must use (border), per status
BORDERS = {"SUCCEEDED": "#1d8102", "FAILED": "#d13212", "CAUGHT": "#ec7211", "NOT_RUN": "#879596"}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                       reason="needs Node.js and npm (playwright-core drives the browser)"),
    pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt-get install chromium)"),
]


def _request(url: str, method: str = "GET", body: Any = None, token: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read().decode()
    return json.loads(text) if text else None


def _wait(what: str, probe, timeout: float, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
            last = exc
        time.sleep(2)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what} ({last})\n{tail}")


@pytest.fixture(scope="module")
def playwright() -> Path:
    """``npm ci`` of the committed lock file: playwright-core only (it downloads no browser)."""
    done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"})
    assert done.returncode == 0, f"npm ci failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return HERE / "execution_view.mjs"


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    """``airflow standalone`` (API server, scheduler, DAG processor, triggerer) on a free port."""
    from asl_airflow import devstack
    from asl_airflow.runner import _template_db

    home = tmp_path_factory.mktemp("standalone")
    dags = home / "dags"
    dags.mkdir()
    shutil.copy(SAMPLE, dags / "console_demo.asl.json")
    (dags / "console_demo.py").write_text(
        "from pathlib import Path\nfrom asl_airflow import asl_dag\n\n"
        "dag = asl_dag(Path(__file__).with_name('console_demo.asl.json'), dag_id='console_demo')\n"
    )
    port = devstack.free_port()
    password = secrets.token_urlsafe(12)
    (home / "passwords.json").write_text(json.dumps({"admin": password}))
    env = {**os.environ, **devstack.airflow_env(home, logging_level="WARNING")}
    env.update({
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        # a loaded CI machine: the tasks' calls to the execution API may wait on a busy API server
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
        "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "10",
        "AIRFLOW__CORE__PARALLELISM": "4",
    })
    shutil.copy(_template_db(env), home / "airflow.db")
    log = home / "standalone.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait("the API server", lambda: _request(f"{base}/api/v2/monitor/health"), 1200, log)
        token = _request(f"{base}/auth/token", "POST", {"username": "admin", "password": password})["access_token"]
        yield {"base": base, "password": password, "token": token, "log": log, "home": home}
    finally:
        _stop(proc.pid)


def _stop(pid: int) -> None:
    """Stop ``airflow standalone`` and its components: they run in process groups of their own, so
    they are found as its children (by PID) before it goes."""
    import psutil
    from asl_airflow import devstack

    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    devstack.stop(pid)
    for child in children:
        try:
            child.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(children, timeout=20)
    for child in alive:
        child.kill()


@pytest.fixture(scope="module")
def finished_run(airflow) -> dict[str, Any]:
    base, token = airflow["base"], airflow["token"]
    dag_url = f"{base}/api/v2/dags/console_demo"
    _wait("the DAG to be parsed", lambda: _request(dag_url, token=token), 600, airflow["log"])
    _request(f"{base}/api/v2/dags/console_demo", "PATCH", {"is_paused": False}, token)
    run = _request(f"{base}/api/v2/dags/console_demo/dagRuns", "POST", {"logical_date": None, "conf": INPUT}, token)
    run_url = f"{base}/api/v2/dags/console_demo/dagRuns/{run['dag_run_id']}"

    def finished() -> dict[str, Any] | None:
        state = _request(run_url, token=token)
        return state if state["state"] in ("success", "failed") else None

    state = _wait("the run to finish", finished, 900, airflow["log"])
    tis = _request(f"{run_url}/taskInstances", token=token)["task_instances"]
    return {"run_id": run["dag_run_id"], "state": state["state"], "task_instances": tis}


def test_the_view_in_chromium(airflow, finished_run, playwright, tmp_path):
    assert finished_run["state"] == "success"
    done = subprocess.run(
        ["node", str(playwright), airflow["base"], "admin", airflow["password"], "console_demo",
         finished_run["run_id"], "Recover", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "CHROMIUM": CHROMIUM or ""},
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    seen = json.loads(done.stdout.strip().splitlines()[-1])

    # one node per state, each with the status the run gave it, in the console's colours
    count = seen["nodes"].pop("Count")  # the sibling of the failing branch may or may not have run
    assert seen["nodes"] == EXPECTED and count in ("SUCCEEDED", "NOT_RUN")
    for name, status in EXPECTED.items():
        assert seen["colors"][name] == BORDERS[status], name
    # ... and consistent with Airflow's own task instances
    by_name: dict[str, set[str]] = {}
    for ti in finished_run["task_instances"]:
        by_name.setdefault(ti["task_display_name"].removesuffix(" (join)"), set()).add(ti["state"])
    for name, status in EXPECTED.items():
        if status == "NOT_RUN":
            assert by_name[name] <= {"skipped", "upstream_failed", "removed"}, name
        else:
            assert "success" in by_name[name] or name == "Always fails", (name, by_name[name])
    assert seen["inUi"] == len(EXPECTED) + 1  # the tab inside Airflow's UI draws the same graph
    assert seen["status"].strip() == "SUCCEEDED"
    assert seen["catchEdges"] == [{"dashed": True, "label": "catch: States.ALL"}]

    # clicking a state shows its output (what the run's history says it left)
    assert seen["panelTitle"].startswith("Recover")
    output = json.loads(seen["output"])
    assert output["recovery"] == "recovered" and output["error"]["Error"] == "Invalid.Input"
    assert json.loads(seen["asl"]) == json.loads(SAMPLE.read_text())["States"]["Recover"]
    assert 0 < seen["filteredRows"] < int(seen["totalRows"].split(" of ")[1].split()[0])
    assert seen["offsite"] == []  # no CDN, nothing from the internet
    for shot in seen["screenshots"]:
        assert Path(shot).stat().st_size > 10_000
