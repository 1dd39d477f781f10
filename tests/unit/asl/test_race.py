"""Parallel branches and Map iterations race as on AWS: the first failure stops the waiting siblings.

The real sample is AWS's "either-or parallel" pattern (``tests/samples/either_or_parallel.asl.json``):
a 15 s timeout branch and two branches polling every 5 s; the first branch to fail ends the Parallel.
Run one after the other it never ended (the poll loops never finish) or ended on the wrong branch.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from asl_airflow.asl import Interpreter, errors

SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "samples" / "either_or_parallel.asl.json").read_text())


def run(doc: dict[str, Any], input_: Any = None) -> tuple[Any, list[float]]:
    slept: list[float] = []
    return Interpreter(doc, sleep=slept.append).execute(input_), slept


def named(result: Any) -> list[str]:
    out = []
    for event in result.history:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails") or {}
        out.append(event["type"] + (f":{details['name']}" if "name" in details else ""))
    return out


@pytest.mark.parametrize(("input_", "winner", "slept"), [
    ({"Process1ToComplete": True}, "States.FauxFailure1", []),
    ({"Process2ToComplete": True}, "States.FauxFailure2", []),
    ({}, "States.RanOutOfTime", [5.0, 5.0, 5.0]),
])
def test_either_or_sample_ends_with_the_first_branch_to_fail(input_: Any, winner: str, slept: list[float]) -> None:
    result, waited = run(SAMPLE, input_)
    assert result.status == "SUCCEEDED"
    assert result.output == {"Error": winner}
    assert waited == slept  # 15 s in all (the timeout), not the branches' waits one after the other
    events = named(result)
    failed = events.index("ParallelStateFailed")
    # every branch still waiting when the winner failed is stopped, its Wait recorded as aborted
    waiting = sum(1 for e in events[:failed] if e.startswith("WaitStateEntered")) - \
        sum(1 for e in events[:failed] if e.startswith("WaitStateExited"))
    assert events[failed - waiting:failed] == ["WaitStateAborted"] * waiting
    assert waiting == {"States.FauxFailure1": 1}.get(winner, 2)


def test_process1_wins_before_process2_starts() -> None:
    result, _ = run(SAMPLE, {"Process1ToComplete": True})
    assert named(result)[:12] == [
        "ExecutionStarted", "ParallelStateEntered:Wait Either For Process Completion Or Timeout",
        "ParallelStateStarted", "WaitStateEntered:TimeoutWait",
        "PassStateEntered:Get Process1 Completion Status", "PassStateExited:Get Process1 Completion Status",
        "ChoiceStateEntered:Check If Process1 Completed", "ChoiceStateExited:Check If Process1 Completed",
        "FailStateEntered:Process1 Completed (DummyFailure)", "WaitStateAborted", "ParallelStateFailed",
        "ParallelStateExited:Wait Either For Process Completion Or Timeout"]


def test_branches_that_never_wait_keep_their_sequential_history() -> None:
    doc = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Choice", "Choices": [
            {"Variable": "$.x", "IsPresent": True, "Next": "C"}], "Default": "C"}, "C": {"Type": "Succeed"}}},
        {"StartAt": "D", "States": {"D": {"Type": "Pass", "End": True}}}]}}}
    result, slept = run(doc, {"x": 1})
    assert named(result)[3:-2] == [
        "PassStateEntered:A", "PassStateExited:A", "ChoiceStateEntered:B", "ChoiceStateExited:B",
        "SucceedStateEntered:C", "SucceedStateExited:C", "PassStateEntered:D", "PassStateExited:D"]
    assert result.output == [{"x": 1}, {"x": 1}] and slept == []


def test_waits_overlap_on_a_virtual_clock() -> None:
    def wait_branch(seconds: int, name: str) -> dict[str, Any]:
        return {"StartAt": name, "States": {name: {"Type": "Wait", "Seconds": seconds, "Next": name + "!"},
                                            name + "!": {"Type": "Pass", "Result": name, "End": True}}}
    doc = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        wait_branch(10, "slow"), wait_branch(3, "fast"), wait_branch(3, "fast2")]}}}
    result, slept = run(doc)
    assert result.output == ["slow", "fast", "fast2"]  # outputs stay in branch order
    assert slept == [3.0, 7.0]  # 10 s in all
    exits = [e for e in named(result) if e.startswith("WaitStateExited")]
    assert exits == ["WaitStateExited:fast", "WaitStateExited:fast2", "WaitStateExited:slow"]


def test_a_failing_map_iteration_aborts_the_waiting_ones() -> None:
    doc = {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": {
        "StartAt": "Which", "States": {
            "Which": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Boom"}],
                      "Default": "W"},
            "W": {"Type": "Wait", "Seconds": 60, "End": True},
            "Boom": {"Type": "Fail", "Error": "Boom"}}}}}}
    result, slept = run(doc, [0, 1, 2, 3])
    assert result.status == "FAILED" and result.error == "Boom" and slept == []
    tail = [e["type"] for e in result.history][-7:]
    assert tail == ["MapIterationFailed", "WaitStateAborted", "MapIterationAborted", "WaitStateAborted",
                    "MapIterationAborted", "MapStateFailed", "ExecutionFailed"]
    assert [e["mapIterationAbortedEventDetails"]["index"] for e in result.history
            if e["type"] == "MapIterationAborted"] == [0, 1]
    started = [e["mapIterationStartedEventDetails"]["index"] for e in result.history
               if e["type"] == "MapIterationStarted"]
    assert started == [0, 1, 2]  # item 3 never starts


def test_max_concurrency_one_runs_iterations_in_turn() -> None:
    doc = {"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 1, "End": True, "ItemProcessor": {
        "StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$", "End": True}}}}}}
    result, slept = run(doc, [2, 1])
    assert slept == [2.0, 1.0] and result.output == [2, 1]
    assert [e["type"] for e in result.history][3:9] == [
        "MapIterationStarted", "WaitStateEntered", "WaitStateExited", "MapIterationSucceeded",
        "MapIterationStarted", "WaitStateEntered"]


def test_nested_parallel_is_aborted_inside_out() -> None:
    inner = {"StartAt": "In", "States": {"In": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "W1", "States": {"W1": {"Type": "Wait", "Seconds": 30, "End": True}}},
        {"StartAt": "W2", "States": {"W2": {"Type": "Wait", "Seconds": 40, "End": True}}}]}}}
    failing = {"StartAt": "W0", "States": {"W0": {"Type": "Wait", "Seconds": 5, "Next": "F"},
                                           "F": {"Type": "Fail", "Error": "Late", "Cause": "after 5 s"}}}
    doc = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [inner, failing]}}}
    result, slept = run(doc)
    assert (result.status, result.error, result.cause, slept) == ("FAILED", "Late", "after 5 s", [5.0])
    assert [e["type"] for e in result.history][-6:] == [
        "FailStateEntered", "WaitStateAborted", "WaitStateAborted", "ParallelStateAborted", "ParallelStateFailed",
        "ExecutionFailed"]


def test_retry_delays_race_too() -> None:
    doc = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                          "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 100,
                                                     "MaxAttempts": 3}], "End": True}}},
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "F"},
                                    "F": {"Type": "Fail", "Error": "Quick"}}}]}}}

    def invoker(*args: Any) -> Any:
        raise errors.AslError("Lambda.ServiceException", "down")

    slept: list[float] = []
    result = Interpreter(doc, invoker=invoker, sleep=slept.append).execute({})
    assert (result.status, result.error, slept) == ("FAILED", "Quick", [1.0])
    types = [e["type"] for e in result.history]
    assert types.count("TaskScheduled") == 1 and types[-3:] == ["TaskStateAborted", "ParallelStateFailed",
                                                                "ExecutionFailed"]


def test_an_aborted_execution_leaves_no_branch_thread_behind() -> None:
    before = threading.active_count()

    def abort(seconds: float) -> None:
        raise errors.ExecutionAborted()

    result = Interpreter(SAMPLE, sleep=abort).execute({})
    assert result.status == "ABORTED"
    assert [e["type"] for e in result.history][-2:] == ["WaitStateEntered", "ExecutionAborted"]
    assert threading.active_count() == before


def test_a_branch_that_cannot_wait_still_stops_the_waiting_ones() -> None:
    doc = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 9, "End": True}}},
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Now"}}}]}}}
    result, slept = run(doc)
    assert (result.error, slept) == ("Now", [])
    assert [e["type"] for e in result.history][-4:] == ["FailStateEntered", "WaitStateAborted", "ParallelStateFailed",
                                                        "ExecutionFailed"]


def test_the_machine_timeout_ends_a_race_quietly() -> None:
    now = [1000.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    doc = {"TimeoutSeconds": 10, "StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 5, "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 20, "End": True}}}]}}}
    before = threading.active_count()
    result = Interpreter(doc, sleep=sleep, clock=lambda: now[0]).execute({})
    assert (result.status, result.error) == ("TIMED_OUT", "States.Timeout")
    assert now[0] == 1010.0  # 5 s, then the 5 s left: the branches waited side by side
    # A's wait ended, B was still waiting when the execution timed out: no aborted events then
    assert [e["type"] for e in result.history][3:] == ["WaitStateEntered", "WaitStateEntered", "WaitStateExited",
                                                       "ExecutionTimedOut"]
    assert threading.active_count() == before
