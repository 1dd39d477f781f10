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
