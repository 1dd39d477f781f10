"""The pytest plugin users get (``pytest11`` entry point): a user's test file, run by pytest."""

from __future__ import annotations

import importlib.metadata

pytest_plugins = ["pytester"]

USER_TESTS = '''
import json

MACHINE = {
    "StartAt": "Charge",
    "States": {
        "Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "charge", "Payload.$": "$"},
                   "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 30}],
                   "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Refund"}], "Next": "Wait a day"},
        "Wait a day": {"Type": "Wait", "Seconds": 86400, "Next": "Done"},
        "Refund": {"Type": "Pass", "Result": "refunded", "End": True},
        "Done": {"Type": "Succeed"},
    },
}
MOCKS = {
    "StateMachines": {"payments": {"TestCases": {
        "ok": {"Charge": "Charged"}, "throttled then failed": {"Charge": "Throttled"}}}},
    "MockedResponses": {
        "Charged": {"0": {"Return": {"Payload": {"charged": True}}}},
        "Throttled": {"0-1": {"Throw": {"Error": "Lambda.TooManyRequestsException"}},
                      "2": {"Throw": {"Error": "Payment.Declined", "Cause": "card"}}},
    },
}


def test_happy_path(asl_run):
    execution = asl_run(MACHINE, {"amount": 5}, mock_config=MOCKS, test_case="ok", state_machine="payments")
    assert execution.status == "SUCCEEDED"
    assert execution.states_entered == ["Charge", "Wait a day", "Done"]
    assert execution.state_output("Charge")["Payload"] == {"charged": True}


def test_retries_then_catch(asl_run):
    execution = asl_run(MACHINE, {}, mock_config=MOCKS, test_case="throttled then failed",
                        state_machine="payments")
    assert execution.states_entered == ["Charge", "Refund"]
    assert len(execution.events("TaskFailed")) == 3
    assert execution.output == "refunded"


def test_one_state(asl_test_state):
    response = asl_test_state(MACHINE, state_name="Charge", input={},
                              mock={"errorOutput": {"error": "Payment.Declined", "cause": "card"}})
    assert response["status"] == "CAUGHT_ERROR" and response["nextState"] == "Refund"
'''


def test_user_tests_run_with_the_plugin(pytester) -> None:
    pytester.makepyfile(test_payments=USER_TESTS)
    registered = any(ep.value.startswith("asl_airflow.pytest_plugin")
                     for ep in importlib.metadata.entry_points(group="pytest11"))
    args = [] if registered else ["-p", "asl_airflow.pytest_plugin"]
    result = pytester.runpytest_subprocess(*args, "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
