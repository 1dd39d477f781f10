"""Activity Tasks where no worker can reach them: the local engine refuses them clearly (before any
wait), a mocked activity answers on it, and both write the history events AWS writes for activities."""

from __future__ import annotations

import json

from asl_airflow import run

ARN = "arn:aws:states:us-east-1:123456789012:activity:resize"


def _machine(**task):
    return {"StartAt": "Resize", "States": {"Resize": {
        "Type": "Task", "Resource": ARN, "Parameters": {"image.$": "$.image"}, "End": True, **task}}}


def test_local_engine_says_activities_need_a_deployed_dag():
    result = run(_machine(TimeoutSeconds=30, HeartbeatSeconds=10), {"image": "cat.png"}, history=True)
    assert (result["status"], result["error"]) == ("FAILED", "States.Runtime")
    assert "activity worker" in result["cause"] and "mock the state" in result["cause"]
    scheduled = next(e for e in result["history"] if e["type"] == "ActivityScheduled")
    assert scheduled["activityScheduledEventDetails"] == {
        "resource": ARN, "input": '{"image":"cat.png"}', "timeoutInSeconds": 30, "heartbeatInSeconds": 10}
    failed = next(e for e in result["history"] if e["type"] == "ActivityFailed")
    assert failed["activityFailedEventDetails"]["error"] == "States.Runtime"


def test_a_mocked_activity_answers_on_the_local_engine(tmp_path):
    mocks = {"StateMachines": {"m": {"TestCases": {"Happy": {"Resize": "Resized"}}}},
             "MockedResponses": {"Resized": {"0": {"Return": {"width": 64}}}}}
    (tmp_path / "mocks.json").write_text(json.dumps(mocks))
    result = run(_machine(), {"image": "cat.png"}, history=True, mock_config=tmp_path / "mocks.json",
                 test_case="Happy", state_machine="m")
    assert (result["status"], result["output"]) == ("SUCCEEDED", {"width": 64})
    types = [e["type"] for e in result["history"] if e["type"].startswith("Activity")]
    assert types == ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]
