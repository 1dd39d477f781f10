"""Choice, Wait, Pass, Succeed and Fail compiled to Airflow give what the reference interpreter gives."""

from __future__ import annotations

import asl_airflow
import pytest

JINJA = "{{ conn.aws_default.password }} {{ var.value.x }}"

MACHINE = {
    "StartAt": "Route",
    "States": {
        "Route": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.kind", "StringEquals": "slow", "Next": "Pause"}],
            "Default": "Reject",
        },
        "Pause": {"Type": "Wait", "Seconds": 2, "Next": "Stamp"},
        "Stamp": {
            "Type": "Pass",
            "Parameters": {"note.$": "$.note", "execution.$": "$$.Execution.Name", "template": "{{ ds }}"},
            "ResultPath": "$.stamp",
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
        "Reject": {"Type": "Fail", "Error": "Rejected", "Cause": "kind was not slow"},
    },
}


def _types(result):
    return [e["type"] for e in result["history"]]


@pytest.fixture(scope="module")
def slow_run():
    return asl_airflow.run(MACHINE, {"kind": "slow", "note": JINJA}, engine="airflow", history=True)


def test_choice_and_wait_match_the_local_engine(slow_run):
    local = asl_airflow.run(MACHINE, {"kind": "slow", "note": JINJA}, engine="local", history=True)
    assert slow_run["status"] == local["status"] == "SUCCEEDED"
    assert _types(slow_run) == _types(local)
    stamp = slow_run["output"]["stamp"]
    assert stamp["execution"]  # the run's execution name
    slow_run["output"]["stamp"]["execution"] = local["output"]["stamp"]["execution"]
    assert slow_run["output"] == local["output"]


def test_runtime_data_is_never_rendered_by_jinja(slow_run):
    assert slow_run["output"]["note"] == JINJA
    assert slow_run["output"]["stamp"]["note"] == JINJA
    assert slow_run["output"]["stamp"]["template"] == "{{ ds }}"


def test_wait_really_waits_through_a_deferral(slow_run):
    from datetime import datetime

    events = {e["type"]: e for e in slow_run["history"]}
    entered = datetime.fromisoformat(events["WaitStateEntered"]["timestamp"].replace("Z", "+00:00"))
    exited = datetime.fromisoformat(events["WaitStateExited"]["timestamp"].replace("Z", "+00:00"))
    assert (exited - entered).total_seconds() >= 2.0


def test_fail_state_fails_the_run_with_error_and_cause():
    result = asl_airflow.run(MACHINE, {"kind": "fast"}, engine="airflow", history=True)
    local = asl_airflow.run(MACHINE, {"kind": "fast"}, engine="local", history=True)
    assert result["status"] == local["status"] == "FAILED"
    assert (result["error"], result["cause"]) == (local["error"], local["cause"]) == ("Rejected", "kind was not slow")
    assert _types(result) == _types(local)
