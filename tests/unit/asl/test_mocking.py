"""Step Functions Local mock configurations and the simulated clock, on the local engine."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from asl_airflow.asl.errors import AslValidationError
from asl_airflow.asl.mocking import MockConfig
from asl_airflow.runner import run

# AWS's documented example (sfn-local-mock-cfg-file), with the LambdaState's retrier allowing the
# four invocations of its RetryPath
MACHINE = {
    "StartAt": "LambdaState",
    "States": {
        "LambdaState": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"Payload.$": "$", "FunctionName": "HelloWorldFunction"},
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 4}],
            "Next": "SQSState",
        },
        "SQSState": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/account-id/myQueue", "MessageBody.$": "$"},
            "End": True,
        },
    },
}
LAMBDA_OK = {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}
SQS_OK = {"MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
          "MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51"}
CONFIG = {
    "StateMachines": {"LambdaSQSIntegration": {"TestCases": {
        "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
        "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"},
        "HybridPath": {"LambdaState": "MockedLambdaSuccess"},
    }}},
    "MockedResponses": {
        "MockedLambdaSuccess": {"0": {"Return": LAMBDA_OK}},
        "MockedSQSSuccess": {"0": {"Return": SQS_OK}},
        "MockedLambdaRetry": {
            "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "Lambda resource is not ready."}},
            "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}},
            "3": {"Return": LAMBDA_OK},
        },
    },
}


def _run(case: str, **kwargs):
    return run(MACHINE, {"a": 1}, history=True, mock_config=CONFIG, test_case=case,
               state_machine="LambdaSQSIntegration", **kwargs)


def test_happy_path_makes_no_call() -> None:
    result = _run("HappyPath")
    assert result["status"] == "SUCCEEDED" and result["output"] == SQS_OK
    assert [e["type"] for e in result["history"]].count("TaskSucceeded") == 2


def test_retry_path_takes_the_responses_by_invocation() -> None:
    result = _run("RetryPath", time_scale=0)
    failed = [e["taskFailedEventDetails"]["error"] for e in result["history"] if e["type"] == "TaskFailed"]
    assert failed == ["Lambda.ResourceNotReadyException", "Lambda.TimeoutException", "Lambda.TimeoutException"]
    assert result["status"] == "SUCCEEDED"


def test_an_unmocked_task_calls_its_service(monkeypatch) -> None:
    """HybridPath mocks the Lambda only: the SQS call goes to AWS (here: a closed port -> its error)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = _run("HybridPath")
    states = [e["stateEnteredEventDetails"]["name"] for e in result["history"] if e["type"] == "TaskStateEntered"]
    assert states == ["LambdaState", "SQSState"]
    assert result["history"][4]["type"] == "TaskSucceeded"  # the mocked Lambda


def test_thrown_mocks_reach_catch() -> None:
    machine = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
              "Parameters": {"QueueUrl": "q", "MessageBody": {"t.$": "$$.Task.Token"}},
              "Catch": [{"ErrorEquals": ["Approval.Rejected"], "ResultPath": "$.err", "Next": "Rejected"}],
              "End": True},
        "Rejected": {"Type": "Pass", "End": True}}}
    config = {"StateMachines": {"m": {"TestCases": {"no": {"T": "R"}}}},
              "MockedResponses": {"R": {"0": {"Throw": {"Error": "Approval.Rejected", "Cause": "no"}}}}}
    result = run(machine, {}, history=True, mock_config=config, test_case="no", state_machine="m")
    assert result["status"] == "SUCCEEDED"
    assert result["output"] == {"err": {"Error": "Approval.Rejected", "Cause": "no"}}
    types = [e["type"] for e in result["history"]]
    assert types[2:6] == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskFailed"]  # as AWS records a callback


def test_configuration_problems_name_file_and_pointer(tmp_path) -> None:
    path = tmp_path / "mocks.json"
    path.write_text('{"StateMachines": {"m": {"TestCases": {"c": {"S": "Missing"}}}}, '
                    '"MockedResponses": {"R": {"x": {"Return": 1}}}}')
    with pytest.raises(AslValidationError) as info:
        MockConfig.load(path)
    text = "\n".join(info.value.problems)
    assert f"{path}:/StateMachines/m/TestCases/c/S: no mocked response named 'Missing'" in text
    assert f"{path}:/MockedResponses/R/x:" in text
    with pytest.raises(AslValidationError, match="no test case 'Nope'"):
        MockConfig(CONFIG).case("LambdaSQSIntegration", "Nope")


def test_time_scale_zero_keeps_aws_timestamps() -> None:
    """A one-hour Wait and two retries (60 s, 120 s) take no real time; the history says they took it."""
    machine = {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 3600, "Next": "T"},
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
              "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 60, "MaxAttempts": 2}], "End": True}}}
    config = {"StateMachines": {"m": {"TestCases": {"t": {"T": "R"}}}},
              "MockedResponses": {"R": {"0-1": {"Throw": {"Error": "Lambda.ServiceException"}},
                                        "2": {"Return": {"ok": 1}}}}}
    started = time.monotonic()
    result = run(machine, {}, history=True, mock_config=config, test_case="t", state_machine="m", time_scale=0)
    assert time.monotonic() - started < 1.0
    assert result["status"] == "SUCCEEDED"

    def at(type_: str, n: int = 0) -> float:
        stamps = [e["timestamp"] for e in result["history"] if e["type"] == type_]
        return datetime.fromisoformat(stamps[n].replace("Z", "+00:00")).timestamp()

    assert at("WaitStateExited") - at("WaitStateEntered") == pytest.approx(3600, abs=0.5)
    assert at("TaskScheduled", 1) - at("TaskFailed", 0) == pytest.approx(60, abs=0.5)
    assert at("TaskScheduled", 2) - at("TaskFailed", 1) == pytest.approx(120, abs=0.5)
