"""``.waitForTaskToken`` through Airflow: the token goes out in an SQS message, the run defers, and
the SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat API of the plugin (mounted in Airflow's own
API app, behind its authentication) decides how the Task ends.

The DAG runs with ``dag.test()`` in a child process (its trigger runs inline, reading the XCom the
API writes); this process serves the API on the same metadata DB and plays the external system.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from asl_airflow.integrations import supported

RESOURCE = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
PREFIX = "/asl-airflow"

pytestmark = pytest.mark.skipif(not supported(RESOURCE), reason="needs the sqs:sendMessage integration entry")


def _machine(queue_url: str, **task: Any) -> dict[str, Any]:
    return {
        "StartAt": "Ask for approval",
        "States": {
            "Ask for approval": {
                "Type": "Task",
                "Resource": RESOURCE,
                "Parameters": {
                    "QueueUrl": queue_url,
                    "MessageBody": {"TaskToken.$": "$$.Task.Token", "order.$": "$.order"},
                },
                "ResultPath": "$.approval",
                "Next": "Approved",
                **task,
            },
            "Approved": {"Type": "Pass", "End": True},
        },
    }


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    """This process's metadata DB (the tests' AIRFLOW_HOME), migrated, plus a dags folder for the runs."""
    from asl_airflow.runner import _template_db

    url = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    db = Path(url.removeprefix("sqlite:///"))
    if not db.exists():
        shutil.copy(_template_db(dict(os.environ)), db)
    dags = tmp_path_factory.mktemp("token-dags")
    return dags


@pytest.fixture(scope="module")
def api(airflow_home):
    """Airflow's API app (``create_app``) with the plugin's app mounted; JWTs from the auth manager."""
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


def _send(api, action: str, body: dict[str, Any], role: str | None = "admin"):
    headers = {"Authorization": f"Bearer {api.tokens[role]}"} if role else {}
    headers["Content-Type"] = "application/json"
    # serialised here, not by httpx (whose encoder refuses NaN): hostile bodies must reach the server
    return api.post(f"{PREFIX}/{action}", content=json.dumps(body, allow_nan=True), headers=headers)


@pytest.fixture
def queue(stack_env):
    import boto3

    sqs = boto3.client("sqs", endpoint_url=stack_env.endpoint, region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"approvals-{time.monotonic_ns()}")["QueueUrl"]
    return sqs, url


def _write_dag(dags: Path, dag_id: str, machine: dict[str, Any]) -> None:
    (dags / f"{dag_id}.asl.json").write_text(json.dumps(machine))
    (dags / f"{dag_id}.py").write_text(
        "from pathlib import Path\nfrom asl_airflow import asl_dag\n\n"
        f"dag = asl_dag(Path(__file__).with_name('{dag_id}.asl.json'), dag_id='{dag_id}', schedule=None)\n"
    )


class Run:
    """One DAG run through ``dag.test()`` in a child process."""

    def __init__(self, dags: Path, dag_id: str, machine: dict[str, Any], input_: Any) -> None:
        _write_dag(dags, dag_id, machine)
        env = {**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
               "AIRFLOW__ASL_AIRFLOW__TASK_TOKEN_POLL_INTERVAL": "0.5"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "asl_airflow.cli", "_dags-test", dag_id, "--input", json.dumps(input_), "--json"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    def result(self, timeout: float = 120) -> dict[str, Any]:
        out, err = self.proc.communicate(timeout=timeout)
        assert out.strip(), f"no result from the run:\n{err[-4000:]}"
        return json.loads(out.strip().splitlines()[-1])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _token(sqs, url: str, run: Run | None, timeout: float = 90) -> tuple[str, dict[str, Any]]:
    """The external system's side: the message the Task sent, carrying $$.Task.Token."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            body = json.loads(messages[0]["Body"])
            return body["TaskToken"], body
        if run is not None:
            assert run.proc.poll() is None, f"the run ended before sending its message:\n{run.proc.stderr.read()}"
    raise AssertionError("no message with a task token arrived")


def _types(result: dict[str, Any]) -> list[str]:
    return [e["type"] for e in result["history"]]


def test_send_task_success_completes_the_task(airflow_home, api, queue):
    sqs, url = queue
    run = Run(airflow_home, "token_success", _machine(url), {"order": 17})
    try:
        token, body = _token(sqs, url, run)
        assert body["order"] == 17
        # authentication and authorization are Airflow's: no JWT -> 401, a viewer may not -> 403
        assert _send(api, "SendTaskSuccess", {"taskToken": token, "output": "{}"}, role=None).status_code == 401
        assert _send(api, "SendTaskSuccess", {"taskToken": token, "output": "{}"}, role="viewer").status_code == 403
        bad = _send(api, "SendTaskSuccess", {"taskToken": token, "output": "{not json"})
        assert bad.status_code == 400 and bad.json()["__type"] == "InvalidOutput"
        # NaN/Infinity, as JSON text or as the body's own value, are not JSON: 400, the Task keeps waiting
        for output in ("NaN", "1e400", "[Infinity]", float("nan"), {"v": float("inf")}):
            bad = _send(api, "SendTaskSuccess", {"taskToken": token, "output": output})
            assert bad.status_code == 400 and bad.json()["__type"] == "InvalidOutput", bad.text
        forged = token.rsplit(".", 1)[0] + "." + "A" * 43
        bad = _send(api, "SendTaskSuccess", {"taskToken": forged, "output": "{}"})
        assert bad.status_code == 400 and bad.json()["__type"] == "InvalidToken"

        sent = _send(api, "SendTaskSuccess", {"taskToken": token, "output": json.dumps({"approved": True})})
        assert sent.status_code == 200, sent.text
        assert sent.json() == {}
        result = run.result()
    finally:
        run.kill()
    assert result["status"] == "SUCCEEDED", result
    assert result["output"] == {"order": 17, "approval": {"approved": True}}
    types = _types(result)
    assert types.index("TaskSubmitted") < types.index("TaskSucceeded") < types.index("TaskStateExited")
    # the token is spent once the task has its result
    again = _send(api, "SendTaskSuccess", {"taskToken": token, "output": "{}"})
    assert again.status_code == 400 and again.json()["__type"] == "TaskTimedOut"


def test_send_task_failure_fails_the_task_with_the_sent_error(airflow_home, api, queue):
    sqs, url = queue
    run = Run(airflow_home, "token_failure", _machine(url), {"order": 18})
    try:
        token, _ = _token(sqs, url, run)
        sent = _send(api, "SendTaskFailure", {"taskToken": token, "error": "Approval.Rejected",
                                              "cause": "over budget"})
        assert sent.status_code == 200, sent.text
        result = run.result()
    finally:
        run.kill()
    assert result["status"] == "FAILED", result
    assert (result["error"], result["cause"]) == ("Approval.Rejected", "over budget")
    failed = next(e for e in result["history"] if e["type"] == "TaskFailed")
    assert failed["taskFailedEventDetails"]["error"] == "Approval.Rejected"
    assert _send(api, "SendTaskHeartbeat", {"taskToken": token}).json()["__type"] == "TaskTimedOut"


def test_send_task_failure_is_caught(airflow_home, api, queue):
    sqs, url = queue
    machine = _machine(url, Catch=[{"ErrorEquals": ["Approval.Rejected"], "ResultPath": "$.rejected",
                                    "Next": "Rejected"}])
    machine["States"]["Rejected"] = {"Type": "Pass", "End": True}
    run = Run(airflow_home, "token_caught", machine, {"order": 19})
    try:
        token, _ = _token(sqs, url, run)
        assert _send(api, "SendTaskFailure", {"taskToken": token, "error": "Approval.Rejected"}).status_code == 200
        result = run.result()
    finally:
        run.kill()
    assert result["status"] == "SUCCEEDED", result
    assert result["output"] == {"order": 19, "rejected": {"Error": "Approval.Rejected"}}


def test_retry_issues_a_new_token_per_attempt(airflow_home, api, queue):
    sqs, url = queue
    machine = _machine(url, Retry=[{"ErrorEquals": ["Approval.Later"], "IntervalSeconds": 1, "MaxAttempts": 1}])
    run = Run(airflow_home, "token_retry", machine, {"order": 22})
    try:
        first, _ = _token(sqs, url, run)
        assert _send(api, "SendTaskFailure", {"taskToken": first, "error": "Approval.Later"}).status_code == 200
        second, _ = _token(sqs, url, run)  # the retry sends a new message with a new token
        assert second != first
        stale = _send(api, "SendTaskSuccess", {"taskToken": first, "output": "{}"})
        assert stale.status_code == 400 and stale.json()["__type"] == "TaskTimedOut"
        assert _send(api, "SendTaskSuccess", {"taskToken": second, "output": '"yes"'}).status_code == 200
        result = run.result()
    finally:
        run.kill()
    assert result["status"] == "SUCCEEDED", result
    assert result["output"] == {"order": 22, "approval": "yes"}
    assert _types(result).count("TaskFailed") == 1


def test_heartbeats_keep_the_task_waiting_then_heartbeat_timeout(airflow_home, api, queue):
    sqs, url = queue
    run = Run(airflow_home, "token_heartbeat", _machine(url, HeartbeatSeconds=3, TimeoutSeconds=120), {"order": 20})
    try:
        token, _ = _token(sqs, url, run)
        beats_from = time.monotonic()
        while time.monotonic() - beats_from < 6:  # twice HeartbeatSeconds, kept alive by heartbeats
            beat = _send(api, "SendTaskHeartbeat", {"taskToken": token})
            assert beat.status_code == 200, beat.text
            time.sleep(1)
        result = run.result()  # no more heartbeats: States.HeartbeatTimeout 3 s later
    finally:
        run.kill()
    assert result["status"] == "FAILED", result
    assert result["error"] == "States.HeartbeatTimeout"
    late = _send(api, "SendTaskSuccess", {"taskToken": token, "output": "{}"})
    assert late.status_code == 400 and late.json()["__type"] == "TaskTimedOut"


def test_timeout_seconds_gives_states_timeout(airflow_home, api, queue):
    sqs, url = queue
    run = Run(airflow_home, "token_timeout", _machine(url, TimeoutSeconds=4), {"order": 21})
    try:
        _token(sqs, url, run)
        result = run.result()
    finally:
        run.kill()
    assert result["status"] == "FAILED", result
    assert result["error"] == "States.Timeout"


def test_api_errors_for_unknown_and_malformed_tokens(airflow_home, api):
    from asl_airflow.integrations.callbacks import TokenTarget, encode_task_token

    unknown = encode_task_token(TokenTarget("no_such_dag", "manual__x", "t", -1, 1), "s" * 43)
    sent = _send(api, "SendTaskSuccess", {"taskToken": unknown, "output": "{}"})
    assert sent.status_code == 400 and sent.json()["__type"] == "TaskDoesNotExist"
    sent = _send(api, "SendTaskHeartbeat", {"taskToken": "AAAAKgAAAAIAAAAAAAAAAQ"})
    assert sent.status_code == 400 and sent.json()["__type"] == "InvalidToken"
    sent = _send(api, "SendTaskFailure", {"taskToken": unknown, "error": "E" * 257})
    assert sent.status_code == 400 and sent.json()["__type"] == "ValidationException"
    assert _send(api, "SendTaskHeartbeat", {"taskToken": unknown}, role=None).status_code == 401


# -- the real thing: `airflow standalone` (API server with its auth, scheduler, triggerer) ---------------


def _http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, text.decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, None


def _until(what: str, probe, timeout: float, every: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.skipif(os.environ.get("ASL_AIRFLOW_STANDALONE_TESTS") != "1",
                    reason="starts `airflow standalone` (~3 min on 2 cores); set ASL_AIRFLOW_STANDALONE_TESTS=1")
def test_standalone_api_server_and_triggerer(stack_env, queue, tmp_path):
    from asl_airflow import devstack
    from asl_airflow.runner import _template_db

    sqs, url = queue
    home, dags = tmp_path / "home", tmp_path / "dags"
    home.mkdir()
    dags.mkdir()
    dag_id = "token_standalone"
    _write_dag(dags, dag_id, _machine(url, HeartbeatSeconds=120))
    port = devstack.free_port()
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({"admin": "s3cret-admin", "watcher": "s3cret-watcher"}))
    env = {**os.environ, **stack_env.env(), **devstack.airflow_env(home)}
    shutil.copy(_template_db(env), home / "airflow.db")
    env.update({
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,watcher:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__ASL_AIRFLOW__TASK_TOKEN_POLL_INTERVAL": "1",
    })
    log = open(tmp_path / "standalone.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://localhost:{port}"
    try:
        _until("the API server", lambda: _http("GET", f"{base}/api/v2/monitor/health")[0] == 200, 180)
        status, body = _http("POST", f"{base}/auth/token", {"username": "admin", "password": "s3cret-admin"})
        assert status in (200, 201), body
        jwt = body["access_token"]
        viewer = _http("POST", f"{base}/auth/token", {"username": "watcher", "password": "s3cret-watcher"})[1]
        _until("the DAG to be parsed", lambda: _http("GET", f"{base}/api/v2/dags/{dag_id}", token=jwt)[0] == 200, 180)
        status, run = _http("POST", f"{base}/api/v2/dags/{dag_id}/dagRuns",
                            {"logical_date": None, "conf": {"order": 42}}, token=jwt)
        assert status == 200, run
        run_id = run["dag_run_id"]
        tis = f"{base}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"

        def deferred() -> bool:
            listing = _http("GET", tis, token=jwt)[1] or {}
            return any(ti["state"] == "deferred" for ti in listing.get("task_instances", []))

        _until("the Task to defer in the triggerer", deferred, 180)
        token, body = _token(sqs, url, None, timeout=30)
        assert body["order"] == 42
        endpoint = f"{base}{PREFIX}/SendTaskSuccess"
        payload = {"taskToken": token, "output": json.dumps({"approved": "by ops"})}
        assert _http("POST", endpoint, payload)[0] == 401
        assert _http("POST", endpoint, payload, token=viewer["access_token"])[0] == 403
        status, answer = _http("POST", endpoint, payload, token=jwt)
        assert (status, answer) == (200, {})

        def finished() -> str | None:
            state = (_http("GET", f"{base}/api/v2/dags/{dag_id}/dagRuns/{run_id}", token=jwt)[1] or {}).get("state")
            return state if state in ("success", "failed") else None

        assert _until("the run to finish", finished, 180) == "success"
        listing = _http("GET", tis, token=jwt)[1]["task_instances"]
        last = next(ti for ti in listing if ti["task_display_name"] == "Approved")
        status, xcom = _http("GET", f"{tis}/{last['task_id']}/xcomEntries/return_value?deserialize=true",
                             token=jwt)
        assert status == 200, xcom
        assert xcom["value"] == {"order": 42, "approval": {"approved": "by ops"}}
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()

