"""Activities through Airflow: a Task whose Resource is an activity ARN waits, deferred, until an
activity worker takes it with GetActivityTask and reports back with SendTaskSuccess / Failure /
Heartbeat, all on the plugin's API behind Airflow's authentication.

The DAG runs with ``dag.test()`` in a child process (its trigger runs inline); this process serves
Airflow's API app (plugin mounted) on a free port with uvicorn, and the worker is the README's
example, run as written with boto3's ``stepfunctions`` client (AWS JSON 1.0, a bearer JWT).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from typing import Any

import pytest
from asl_airflow.integrations import supported
from readme_code import activity_worker
from test_task_token import Run, _send, airflow_home, api  # noqa: F401 - fixtures used by name

RESIZE = "arn:aws:states:us-east-1:123456789012:activity:resize"
APPROVE = "arn:aws:states:us-east-1:123456789012:activity:approve"

pytestmark = pytest.mark.skipif(not supported(RESIZE), reason="needs the activity integration entry")


@pytest.fixture(scope="module")
def endpoint(api):  # noqa: F811 - the imported fixture
    """Airflow's API app (with the plugin) served over HTTP on a free port, in this process."""
    import uvicorn
    from asl_airflow import devstack

    port = devstack.free_port()
    server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, name="api-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture
def short_polls(monkeypatch):
    """GetActivityTask holds an empty poll 1 s instead of AWS's 60 (read per request by the API)."""
    monkeypatch.setenv("AIRFLOW__ASL_AIRFLOW__ACTIVITY_POLL_SECONDS", "1")


class Worker:
    """The README's ``serve_one`` in a loop on a thread, until stopped; remembers every token it got."""

    def __init__(self, endpoint: str, jwt: str, arn: str, handle: Any) -> None:
        readme = activity_worker()
        self.sfn = readme["activity_client"](endpoint, jwt)
        self.tokens: list[str] = []
        self.sfn.meta.events.register("after-call.sfn.GetActivityTask", self._seen)
        self.errors: list[BaseException] = []
        self._stop = threading.Event()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    readme["serve_one"](self.sfn, arn, handle)
                except BaseException as exc:  # reported by stop()
                    self.errors.append(exc)
                    return

        self.thread = threading.Thread(target=loop, name=f"worker-{arn.rsplit(':', 1)[-1]}", daemon=True)
        self.thread.start()

    def _seen(self, parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("taskToken"):
            self.tokens.append(parsed["taskToken"])

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=30)
        assert not self.errors, self.errors


SLOW = "arn:aws:states:us-east-1:123456789012:activity:slow"


def _machine() -> dict[str, Any]:
    """Three activities in one run (one dag.test child is the expensive part): one succeeds, one
    fails twice (Retry, then Catch), one is kept alive by heartbeats until they stop (Catch)."""
    return {
        "StartAt": "Resize",
        "States": {
            "Resize": {"Type": "Task", "Resource": RESIZE, "Parameters": {"image.$": "$.image", "width": 64},
                       "TimeoutSeconds": 120, "ResultPath": "$.resized", "Next": "Approve"},
            "Approve": {
                "Type": "Task", "Resource": APPROVE, "ResultPath": "$.approval", "Next": "Slow",
                "Retry": [{"ErrorEquals": ["TimeoutError"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.rejected", "Next": "Slow"}],
            },
            "Slow": {
                "Type": "Task", "Resource": SLOW, "HeartbeatSeconds": 2, "TimeoutSeconds": 120,
                "Parameters": {"image.$": "$.image"}, "ResultPath": "$.slow", "End": True,
                "Catch": [{"ErrorEquals": ["States.HeartbeatTimeout"], "ResultPath": "$.gaveUp", "Next": "Gave up"}],
            },
            "Gave up": {"Type": "Pass", "End": True},
        },
    }


def _events(result: dict[str, Any], prefix: str = "Activity") -> list[dict[str, Any]]:
    return [e for e in result["history"] if e["type"].startswith(prefix)]


def test_get_activity_task_is_behind_airflow_auth_and_answers_no_task(api, short_polls):  # noqa: F811
    body = {"activityArn": RESIZE, "workerName": "w"}
    assert _send(api, "GetActivityTask", body, role=None).status_code == 401
    assert _send(api, "GetActivityTask", body, role="viewer").status_code == 403
    started = time.monotonic()
    empty = _send(api, "GetActivityTask", {"activityArn": "arn:aws:states:us-east-1:123456789012:activity:idle"})
    assert (empty.status_code, empty.json()) == (200, {"taskToken": None})
    assert 0.9 <= time.monotonic() - started < 10  # held for activity_poll_seconds, then answered
    bad = _send(api, "GetActivityTask", {"activityArn": "arn:aws:states:us-east-1:123456789012:stateMachine:x"})
    assert bad.status_code == 400 and bad.json()["__type"] == "InvalidArn"
    # AWS's JSON 1.0 protocol at the root: the action in X-Amz-Target
    headers = {"Authorization": f"Bearer {api.tokens['admin']}", "Content-Type": "application/x-amz-json-1.0"}
    unknown = api.post("/asl-airflow/", content="{}", headers={**headers, "X-Amz-Target": "AWSStepFunctions.Nope"})
    assert unknown.status_code == 400 and unknown.json()["__type"] == "UnknownOperationException"
    invalid = api.post("/asl-airflow/", content=json.dumps({"activityArn": RESIZE, "workerName": "w" * 81}),
                       headers={**headers, "X-Amz-Target": "AWSStepFunctions.GetActivityTask"})
    assert invalid.status_code == 400 and invalid.json()["__type"] == "ValidationException"
    anonymous = api.post("/asl-airflow/", content=json.dumps(body),
                         headers={"X-Amz-Target": "AWSStepFunctions.GetActivityTask"})
    assert anonymous.status_code == 401


def _slow_worker(sfn: Any, seen: dict[str, Any]) -> None:
    """Takes the slow activity, checks nobody else is offered it, heartbeats past HeartbeatSeconds, then
    goes quiet: the Task times out 2 s after the last heartbeat."""
    deadline = time.monotonic() + 120
    task: dict[str, Any] = {}
    while not task.get("taskToken") and time.monotonic() < deadline:
        task = sfn.get_activity_task(activityArn=SLOW, workerName="slow-worker")
    seen["task"] = task
    seen["second"] = sfn.get_activity_task(activityArn=SLOW, workerName="other")  # taken: not offered again
    for _ in range(3):  # 3 s alive, beyond the 2 s HeartbeatSeconds
        sfn.send_task_heartbeat(taskToken=task["taskToken"])
        time.sleep(1)


def test_readme_worker_and_heartbeats_complete_activities(airflow_home, api, endpoint, short_polls):  # noqa: F811
    resized = Worker(endpoint, api.tokens["admin"], RESIZE,
                     lambda task: {"resized": task["image"], "px": task["width"]})
    attempts: list[dict[str, Any]] = []

    def approve(task: dict[str, Any]) -> Any:
        attempts.append(task)
        if len(attempts) == 1:
            raise TimeoutError("the approver is away")  # the Task's Retry runs it again
        raise ValueError("over budget")  # caught

    approver = Worker(endpoint, api.tokens["admin"], APPROVE, approve)
    slow = activity_worker()["activity_client"](endpoint, api.tokens["admin"])
    seen: dict[str, Any] = {}
    slow_thread = threading.Thread(target=_slow_worker, args=(slow, seen), name="worker-slow", daemon=True)
    slow_thread.start()
    run = Run(airflow_home, "activity_workers", _machine(), {"image": "cat.png"})
    try:
        result = run.result()
    finally:
        run.kill()
        resized.stop()
        approver.stop()
        slow_thread.join(timeout=30)
    assert result["status"] == "SUCCEEDED", result
    assert result["output"] == {"image": "cat.png", "resized": {"resized": "cat.png", "px": 64},
                                "rejected": {"Error": "ValueError", "Cause": "over budget"},
                                "gaveUp": {"Error": "States.HeartbeatTimeout"}}
    assert len(attempts) == 2 and attempts[1]["image"] == "cat.png"

    events = _events(result)
    assert [e["type"] for e in events] == [
        "ActivityScheduled", "ActivityStarted", "ActivitySucceeded",  # Resize
        "ActivityScheduled", "ActivityStarted", "ActivityFailed",  # Approve, retried
        "ActivityScheduled", "ActivityStarted", "ActivityFailed",  # Approve, caught
        "ActivityScheduled", "ActivityStarted", "ActivityTimedOut",  # Slow, heartbeats stopped
    ]
    assert "TaskSubmitted" not in [e["type"] for e in result["history"]]
    assert events[0]["activityScheduledEventDetails"] == {
        "resource": RESIZE, "input": json.dumps({"image": "cat.png", "width": 64}, separators=(",", ":")),
        "timeoutInSeconds": 120}
    assert events[1]["activityStartedEventDetails"] == {"workerName": socket.gethostname()}
    assert json.loads(events[2]["activitySucceededEventDetails"]["output"]) == {"resized": "cat.png", "px": 64}
    assert events[5]["activityFailedEventDetails"] == {"error": "TimeoutError", "cause": "the approver is away"}
    assert events[8]["activityFailedEventDetails"] == {"error": "ValueError", "cause": "over budget"}
    assert events[9]["activityScheduledEventDetails"]["heartbeatInSeconds"] == 2
    assert events[10]["activityStartedEventDetails"] == {"workerName": "slow-worker"}
    assert events[11]["activityTimedOutEventDetails"]["error"] == "States.HeartbeatTimeout"
    assert json.loads(seen["task"]["input"]) == {"image": "cat.png"}
    assert not seen["second"].get("taskToken")

    # every claim had its own token; once its attempt has ended (retried, answered, timed out) it is spent
    tokens = resized.tokens + approver.tokens + [seen["task"]["taskToken"]]
    assert len(set(tokens)) == 4
    for token in tokens:
        with pytest.raises(slow.exceptions.TaskTimedOut):
            slow.send_task_success(taskToken=token, output="{}")


@pytest.mark.skipif(os.environ.get("ASL_ALL_TESTS") != "1",
                    reason="one more dag.test run (~20 s); `make test-all` (ASL_ALL_TESTS=1) runs it")
def test_a_mocked_activity_answers_alike_on_both_engines(tmp_path):
    from asl_airflow import run

    machine = {"StartAt": "Resize", "States": {"Resize": {
        "Type": "Task", "Resource": RESIZE, "TimeoutSeconds": 30, "End": True}}}
    mocks = tmp_path / "mocks.json"
    mocks.write_text(json.dumps({"StateMachines": {"m": {"TestCases": {"Happy": {"Resize": "Resized"}}}},
                                 "MockedResponses": {"Resized": {"0": {"Return": {"width": 64}}}}}))
    results = {engine: run(machine, {"image": "cat.png"}, engine=engine, history=True, mock_config=mocks,
                           test_case="Happy", state_machine="m") for engine in ("local", "airflow")}
    for result in results.values():
        assert (result["status"], result["output"]) == ("SUCCEEDED", {"width": 64})
    activity = {engine: [(e["type"], e.get("activityScheduledEventDetails")) for e in result["history"]
                         if e["type"].startswith("Activity")] for engine, result in results.items()}
    assert activity["local"] == activity["airflow"] == [
        ("ActivityScheduled", {"resource": RESIZE, "input": '{"image":"cat.png"}', "timeoutInSeconds": 30}),
        ("ActivityStarted", None), ("ActivitySucceeded", None)]
