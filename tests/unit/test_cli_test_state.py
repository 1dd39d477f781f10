"""``asl-airflow test-state``: one JSON object shaped like TestState's response; AWS's 400s as clear errors."""

from __future__ import annotations

import json

from asl_airflow.cli import main

MACHINE = {
    "StartAt": "Call",
    "States": {
        "Call": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f", "Payload.$": "$"},
            "ResultSelector": {"p.$": "$.Payload"}, "ResultPath": "$.r",
            "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "MaxAttempts": 2}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Oops"}],
            "Next": "Done",
        },
        "Oops": {"Type": "Fail"},
        "Done": {"Type": "Succeed"},
    },
}


def _run(tmp_path, capsys, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "machine.asl.json"
    path.write_text(json.dumps(MACHINE))
    code = main(["test-state", str(path), "--compact", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_mocked_result_through_the_data_flow(tmp_path, capsys) -> None:
    code, out, _ = _run(tmp_path, capsys, "--state", "Call", "--input", '{"a": 1}',
                        "--mock", '{"result": "{\\"Payload\\": {\\"ok\\": true}}"}', "--inspection-level", "DEBUG")
    response = json.loads(out)
    assert code == 0
    assert response["status"] == "SUCCEEDED" and response["nextState"] == "Done"
    assert response["output"] == {"a": 1, "r": {"p": {"ok": True}}}
    assert response["inspectionData"]["afterParameters"] == {"FunctionName": "f", "Payload": {"a": 1}}
    assert response["inspectionData"]["afterResultSelector"] == {"p": {"ok": True}}


def test_retry_then_catch(tmp_path, capsys) -> None:
    error = '{"errorOutput": {"error": "Lambda.TooManyRequestsException", "cause": "slow down"}}'
    code, out, _ = _run(tmp_path, capsys, "--state", "Call", "--mock", error,
                        "--state-configuration", '{"retrierRetryCount": 1}')
    assert code == 1 and json.loads(out)["status"] == "RETRIABLE"
    code, out, _ = _run(tmp_path, capsys, "--state", "Call", "--mock", error, "--inspection-level", "DEBUG",
                        "--state-configuration", '{"retrierRetryCount": 2}')
    response = json.loads(out)
    assert code == 0 and response["status"] == "CAUGHT_ERROR" and response["nextState"] == "Oops"
    assert response["inspectionData"]["errorDetails"] == {"retryIndex": 0, "catchIndex": 0}
    assert response["output"] == {"Error": "Lambda.TooManyRequestsException", "Cause": "slow down"}


def test_refusals_are_clear(tmp_path, capsys) -> None:
    code, _, err = _run(tmp_path, capsys, "--state", "Nope")
    assert code == 2 and json.loads(err)["__type"] == "ValidationException"
    code, _, err = _run(tmp_path, capsys, "--state", "Call", "--mock", "{bad")
    assert code == 2 and "--mock is not valid JSON" in err and "Traceback" not in err
