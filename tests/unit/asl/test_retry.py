"""Retry delays and counters, as in the AWS documentation's worked example, and Catch."""

from __future__ import annotations

import random

from asl_airflow.asl import Interpreter, errors, retry

RETRIERS = [
    {"ErrorEquals": ["ErrorA", "ErrorB"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 2},
    {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5},
]


def test_aws_worked_example_counters_per_retrier() -> None:
    counters: list[int] = []
    delays = [retry.next_retry(RETRIERS, e, counters).delay for e in ("ErrorA", "ErrorB", "ErrorC", "ErrorB")]
    assert delays == [1, 2, 5, None]


def test_aws_worked_example_in_the_interpreter_ends_in_catch() -> None:
    raised = iter(["ErrorA", "ErrorB", "ErrorC", "ErrorB"])
    slept: list[float] = []

    def invoker(resource: str, parameters: object, state: dict, env: object) -> object:
        raise errors.AslError(next(raised), "boom")

    doc = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::x:y", "Retry": RETRIERS,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught", "ResultPath": "$.error"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}
    result = Interpreter(doc, invoker=invoker, sleep=slept.append).execute({"in": 1})
    assert slept == [1, 2, 5]
    assert result.status == "SUCCEEDED"
    assert result.output == {"in": 1, "error": {"Error": "ErrorB", "Cause": "boom"}}
    assert [e["type"] for e in result.history].count("TaskFailed") == 4


def test_max_delay_and_full_jitter() -> None:
    retrier = {"ErrorEquals": ["X"], "IntervalSeconds": 10, "BackoffRate": 3, "MaxDelaySeconds": 50}
    assert [retry.retry_delay(retrier, n) for n in range(3)] == [10, 30, 50]
    jittered = retry.retry_delay({**retrier, "JitterStrategy": "FULL"}, 1, random.Random(1))
    assert 0 <= jittered <= 30


def test_states_all_skips_runtime_and_data_limit() -> None:
    catchers = [{"ErrorEquals": ["States.ALL"], "Next": "C"}]
    assert retry.find_catcher(catchers, "Custom") is not None
    assert retry.find_catcher(catchers, errors.RUNTIME) is None
    assert retry.find_catcher(catchers, errors.DATA_LIMIT_EXCEEDED) is None


def test_max_retries_is_sum_of_max_attempts() -> None:
    assert retry.max_retries(RETRIERS) == 5
