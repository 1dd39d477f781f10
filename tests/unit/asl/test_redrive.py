"""Redrive on the local engine: only what did not complete runs again (RedriveExecution's rules)."""

from __future__ import annotations

import pytest
from asl_airflow.asl.redrive import NotRedrivable
from asl_airflow.runner import run

FAN = {"StartAt": "Prepare", "States": {
    "Prepare": {"Type": "Pass", "Result": {"n": 1}, "ResultPath": "$.prep", "Next": "Fan"},
    "Fan": {"Type": "Parallel", "ResultPath": "$.fan", "Next": "Count", "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                          "Parameters": {"FunctionName": "a"}, "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                          "Parameters": {"FunctionName": "b"}, "End": True}}}]},
    "Count": {"Type": "Pass", "Parameters": {"redrives.$": "$$.Execution.RedriveCount", "fan.$": "$.fan"},
              "End": True}}}
MOCKS = {"StateMachines": {"fan": {"TestCases": {
    "first": {"A": "Aok", "B": "Bfail"}, "second": {"A": "NotAgain", "B": "Bok"}}}},
    "MockedResponses": {"Aok": {"0": {"Return": "a"}}, "Bok": {"0": {"Return": "b"}},
                        "Bfail": {"0": {"Throw": {"Error": "Boom", "Cause": "b broke"}}},
                        "NotAgain": {"0": {"Throw": {"Error": "RanTwice"}}}}}


def _run(case: str, **kwargs):
    return run(FAN, {"x": 1}, history=True, mock_config=MOCKS, test_case=case, state_machine="fan", **kwargs)


def test_only_the_failed_branch_runs_again() -> None:
    first = _run("first")
    assert first["status"] == "FAILED" and first["error"] == "Boom"
    second = _run("second", redrive=first)
    assert second["status"] == "SUCCEEDED"
    assert second["output"] == {"redrives": 1, "fan": ["a", "b"]}  # A's result kept: A did not run again
    history = second["history"]
    assert history[: len(first["history"])] == first["history"]  # the old history is kept as it was
    new = history[len(first["history"]):]
    assert new[0]["type"] == "ExecutionRedriven" and new[0]["executionRedrivenEventDetails"] == {"redriveCount": 1}
    entered = [e["stateEnteredEventDetails"]["name"] for e in new if "stateEnteredEventDetails" in e]
    assert entered == ["Fan", "B", "Count"]  # Prepare and A succeeded before: not re-run
    assert [e["id"] for e in history] == list(range(1, len(history) + 1))


def test_redrive_counts_redrives() -> None:
    first = _run("first")
    again = _run("first", redrive=first)  # B fails again
    assert again["status"] == "FAILED"
    third = _run("second", redrive=again)
    assert third["output"]["redrives"] == 2


def test_a_caught_task_is_not_run_again() -> None:
    machine = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "t"},
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "U"}], "Next": "U"},
        "U": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "u"},
              "End": True}}}
    mocks = {"StateMachines": {"m": {"TestCases": {"1": {"T": "Fail", "U": "Fail"}, "2": {"T": "Ok", "U": "Ok"}}}},
             "MockedResponses": {"Fail": {"0": {"Throw": {"Error": "E", "Cause": "c"}}}, "Ok": {"0": {"Return": 1}}}}
    first = run(machine, {}, history=True, mock_config=mocks, test_case="1", state_machine="m")
    assert first["status"] == "FAILED"
    second = run(machine, {}, history=True, mock_config=mocks, test_case="2", state_machine="m", redrive=first)
    assert second["status"] == "SUCCEEDED"
    new = second["history"][len(first["history"]):]
    assert [e["stateEnteredEventDetails"]["name"] for e in new if "stateEnteredEventDetails" in e] == ["U"]


def test_only_unsuccessful_executions_can_be_redriven() -> None:
    done = run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {}, history=True)
    with pytest.raises(NotRedrivable, match="SUCCEEDED"):
        run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {}, redrive=done)
    with pytest.raises(NotRedrivable, match="history"):
        run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {}, redrive={"status": "FAILED"})


def test_a_map_redrives_its_failed_iterations_only() -> None:
    machine = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemProcessor": {"StartAt": "Work", "States": {"Work": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "w", "Payload.$": "$"}, "OutputPath": "$.Payload", "End": True}}}}}}
    mocks = {"StateMachines": {"m": {"TestCases": {
        "1": {"Work": "FirstRun"}, "2": {"Work": "SecondRun"}}}},
        "MockedResponses": {
            "FirstRun": {"0": {"Return": {"Payload": "one"}}, "1": {"Throw": {"Error": "Flaky"}}},
            "SecondRun": {"0": {"Return": {"Payload": "two, redriven"}}}}}
    first = run(machine, {"items": [1, 2]}, history=True, mock_config=mocks, test_case="1", state_machine="m")
    assert first["status"] == "FAILED" and first["error"] == "Flaky"
    second = run(machine, {}, history=True, mock_config=mocks, test_case="2", state_machine="m", redrive=first)
    assert second["status"] == "SUCCEEDED"
    assert second["output"] == ["one", "two, redriven"]  # item 0 kept its result; only item 1 ran again
