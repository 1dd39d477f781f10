"""A real failure from the local AWS endpoint drives Retry (exact ASL delays) and then Catch."""

from __future__ import annotations

from datetime import datetime

import asl_airflow
import pytest

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
# the input bucket does not exist on the endpoint: the provider's pre-flight S3 check fails the
# job before it starts, which a .sync Task reports as States.TaskFailed (as a failed job would be)
TRAIN_MISSING_INPUT = {
    "TrainingJobName.$": "$$.Execution.Name",
    "RoleArn": "arn:aws:iam::123456789012:role/asl-airflow-sagemaker",
    "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://asl-airflow-ml/models"},
    "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": "s3://asl-airflow-no-such-bucket/csv/train.csv"}}}],
}

RETRY_CATCH = {
    "StartAt": "Train on missing data",
    "States": {
        "Train on missing data": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Parameters": TRAIN_MISSING_INPUT,
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1,
                       "BackoffRate": 2.0, "MaxAttempts": 2}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"}],
            "End": True,
        },
        "Handled": {"Type": "Pass", "End": True},
    },
}

NO_CATCH = {
    "StartAt": "Train on missing data",
    "States": {
        "Train on missing data": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Parameters": TRAIN_MISSING_INPUT,
            "End": True,
        }
    },
}


def _ts(event: dict) -> datetime:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))


def _retry_gaps(history: list[dict]) -> list[float]:
    """Seconds from each TaskFailed to the next TaskScheduled: the retry delays actually taken."""
    gaps = []
    for i, event in enumerate(history):
        if event["type"] == "TaskFailed":
            nxt = next((e for e in history[i + 1:] if e["type"] == "TaskScheduled"), None)
            if nxt is not None:
                gaps.append((_ts(nxt) - _ts(event)).total_seconds())
    return gaps


@pytest.mark.parametrize("engine", ["airflow", "local"])
def test_retry_with_asl_delays_then_catch(stack_env, engine):
    result = asl_airflow.run(RETRY_CATCH, {"order": 7}, engine=engine, history=True)
    assert result["status"] == "SUCCEEDED"
    assert result["output"]["order"] == 7
    assert result["output"]["error"]["Error"] == "States.TaskFailed"
    assert "asl-airflow-no-such-bucket" in result["output"]["error"]["Cause"]
    types = [e["type"] for e in result["history"]]
    assert types.count("TaskFailed") == 3  # the first try and two retries
    assert types[-4:] == ["TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    gaps = _retry_gaps(result["history"])
    assert len(gaps) == 2
    # IntervalSeconds 1, BackoffRate 2: waits of 1 s then 2 s (Airflow's scheduler loop adds < 1.5 s)
    for gap, expected in zip(gaps, (1.0, 2.0), strict=True):
        assert expected - 0.05 <= gap < expected + 1.5, gaps


@pytest.mark.parametrize("engine", ["airflow", "local"])
def test_uncaught_service_error_fails_the_execution(stack_env, engine):
    result = asl_airflow.run(NO_CATCH, {}, engine=engine)
    assert result["status"] == "FAILED"
    assert result["error"] == "States.TaskFailed"
    assert "asl-airflow-no-such-bucket" in (result["cause"] or "")


# --- AWS's worked example of Retry: a task fails with ErrorA, ErrorB, ErrorC, ErrorB in turn ----------
# (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html, "Complex retry
# scenarios"). Here the errors are real S3 errors, picked by $$.State.RetryCount: a missing bucket (A),
# a missing key (B), an unsatisfiable range (C), a missing key again (B).

ERRORS_IN_TURN_BUCKET = "asl-airflow-errors-in-turn"
# an S3 error code without its own SDK exception class (InvalidRange) is S3.S3Exception, as on AWS
ERROR_A, ERROR_B, ERROR_C = "S3.NoSuchBucketException", "S3.NoSuchKeyException", "S3.S3Exception"

ERRORS_IN_TURN = {
    "StartAt": "X",
    "States": {
        "X": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {
                "Bucket.$": "States.ArrayGetItem($.buckets, $$.State.RetryCount)",
                "Key.$": "States.ArrayGetItem($.keys, $$.State.RetryCount)",
                "Range.$": "States.ArrayGetItem($.ranges, $$.State.RetryCount)",
            },
            "Retry": [
                {"ErrorEquals": [ERROR_A, ERROR_B], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 2},
                {"ErrorEquals": [ERROR_C], "IntervalSeconds": 5},
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Z"}],
            "End": True,
        },
        "Z": {"Type": "Pass", "End": True},
    },
}


@pytest.fixture
def errors_in_turn_input(stack_env):
    s3 = stack_env.client("s3")
    try:
        s3.create_bucket(Bucket=ERRORS_IN_TURN_BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_object(Bucket=ERRORS_IN_TURN_BUCKET, Key="data.txt", Body=b"hello")
    b = ERRORS_IN_TURN_BUCKET
    return {
        "buckets": ["asl-airflow-no-such-bucket", b, b, b],
        "keys": ["data.txt", "missing.txt", "data.txt", "missing.txt"],
        "ranges": ["bytes=0-", "bytes=0-", "bytes=100-200", "bytes=0-"],
    }


@pytest.mark.parametrize("engine", ["airflow", "local"])
def test_errors_in_turn_take_each_retriers_delay_then_catch(errors_in_turn_input, engine):
    result = asl_airflow.run(ERRORS_IN_TURN, errors_in_turn_input, engine=engine, history=True)
    assert result["status"] == "SUCCEEDED", result
    failed = [e["taskFailedEventDetails"]["error"] for e in result["history"] if e["type"] == "TaskFailed"]
    assert failed == [ERROR_A, ERROR_B, ERROR_C, ERROR_B]
    # the fourth error is ErrorB again: its retrier has used its 2 attempts, so the Catch takes over
    assert result["output"]["error"]["Error"] == ERROR_B
    assert [e["type"] for e in result["history"]][-3:] == ["PassStateEntered", "PassStateExited",
                                                           "ExecutionSucceeded"]
    gaps = _retry_gaps(result["history"])
    assert len(gaps) == 3
    # retrier 1: 1 s then 1 * 2.0 = 2 s; retrier 2 (its own counter): 5 s
    for gap, expected in zip(gaps, (1.0, 2.0, 5.0), strict=True):
        assert expected - 0.05 <= gap < expected + 1.5, gaps
