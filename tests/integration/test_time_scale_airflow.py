"""``--time-scale`` on the Airflow engine: ``asl-airflow run --engine airflow --time-scale 0`` skips
the waiting (Wait states, ASL retry delays, Waits inside interpreter regions) while the history keeps
the timestamps AWS would have written, and the machine's TimeoutSeconds is judged on that simulated
clock (a machine that would time out during a long Wait times out, at the deadline, without waiting).

The Tasks are mocked (Step Functions Local's MockConfigFile), so no AWS endpoint is needed.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from asl_airflow import run

MACHINE = {"StartAt": "W", "States": {
    "W": {"Type": "Wait", "Seconds": 3600, "Next": "T"},
    "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
          "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 60, "MaxAttempts": 2}],
          "ResultPath": "$.t", "Next": "Init"},
    # a loop: compiled into one interpreter region, whose Wait uses the same clock
    "Init": {"Type": "Pass", "Result": 0, "ResultPath": "$.n", "Next": "Nap"},
    "Nap": {"Type": "Wait", "Seconds": 600, "Next": "Count"},
    "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Again"},
    "Again": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 2, "Next": "Nap"}],
              "Default": "Done"},
    "Done": {"Type": "Succeed"}}}
CONFIG = {"StateMachines": {"m": {"TestCases": {"t": {"T": "R"}}}},
          "MockedResponses": {"R": {"0-1": {"Throw": {"Error": "Lambda.ServiceException"}},
                                    "2": {"Return": {"ok": 1}}}}}


def _at(history: list[dict], type_: str, n: int = 0) -> float:
    stamps = [e["timestamp"] for e in history if e["type"] == type_]
    return datetime.fromisoformat(stamps[n].replace("Z", "+00:00")).timestamp()


def test_waits_and_retries_take_no_time_and_keep_aws_timestamps() -> None:
    started = time.monotonic()
    result = run(MACHINE, {}, engine="airflow", history=True, mock_config=CONFIG, test_case="t",
                 state_machine="m", time_scale=0)
    took = time.monotonic() - started
    assert result["status"] == "SUCCEEDED", result
    assert result["output"] == {"n": 2}
    assert took < 600, took  # the Waits and retries alone would take 3600 + 180 + 1200 s
    history = result["history"]
    assert _at(history, "WaitStateExited") - _at(history, "WaitStateEntered") == pytest.approx(3600, abs=5)
    assert _at(history, "TaskScheduled", 1) - _at(history, "TaskFailed", 0) == pytest.approx(60, abs=5)
    assert _at(history, "TaskScheduled", 2) - _at(history, "TaskFailed", 1) == pytest.approx(120, abs=5)
    # the region's two 10-minute naps
    for n in (1, 2):
        assert _at(history, "WaitStateExited", n) - _at(history, "WaitStateEntered", n) == pytest.approx(600, abs=5)


def test_the_machine_times_out_on_the_simulated_clock() -> None:
    machine = {"TimeoutSeconds": 7200, "StartAt": "Long",
               "States": {"Long": {"Type": "Wait", "Seconds": 86400, "Next": "After"},
                          "After": {"Type": "Pass", "End": True}}}
    started = time.monotonic()
    result = run(machine, {}, engine="airflow", history=True, time_scale=0)
    assert time.monotonic() - started < 600
    assert result["status"] == "TIMED_OUT", result
    assert result["error"] == "States.Timeout"
    types = [e["type"] for e in result["history"]]
    assert "PassStateEntered" not in types
    entered = _at(result["history"], "WaitStateEntered")
    start = datetime.fromisoformat(result["history"][0]["timestamp"].replace("Z", "+00:00")).timestamp()
    assert entered - start < 60
