"""SendTaskSuccess output: read strictly, a bad one is 400 InvalidOutput (never a 500) and the Task keeps waiting."""

from __future__ import annotations

import pytest
from asl_airflow.airflow import callback_api
from asl_airflow.airflow.operators import _sent_token


@pytest.mark.parametrize("output", ["NaN", "1e400", "[Infinity]", '{"v": -Infinity}', "{not json",
                                    float("nan"), float("inf"), {"v": [float("-inf")]}])
def test_output_that_is_not_json_is_invalid_output(output):
    with pytest.raises(callback_api.StepFunctionsError) as exc:
        callback_api._output(output)
    assert exc.value.name == "InvalidOutput"


def test_json_output_as_text_or_value():
    assert callback_api._output('{"approved": true, "n": 1.5}') == {"approved": True, "n": 1.5}
    assert callback_api._output({"approved": True}) == {"approved": True}


def test_output_too_long_is_a_validation_exception():
    for output in ({"s": "x" * 300_000}, [["x" * 1000] * 100] * 10):
        with pytest.raises(callback_api.StepFunctionsError) as exc:
            callback_api._output(output)
        assert exc.value.name == "ValidationException"


def test_the_waiting_token_is_found_again_in_its_parameters_not_stored():
    from asl_airflow.integrations.callbacks import TokenTarget, encode_task_token, token_digest

    token = encode_task_token(TokenTarget("d", "r", "t", -1, 1), "A" * 43)
    other = encode_task_token(TokenTarget("d", "r", "t", -1, 1), "B" * 43)
    progress = {"task_token_sha256": token_digest(token),
                "parameters": {"QueueUrl": "q", "MessageBody": {"TaskToken": other, "text": f"token={token}!"}}}
    assert _sent_token(progress) == token
    assert _sent_token({"task_token_sha256": token_digest(token), "parameters": {"x": other}}) is None
    assert _sent_token({"parameters": {"x": token}}) is None
