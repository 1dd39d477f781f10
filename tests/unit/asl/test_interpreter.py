"""The interpreter: state types, variables and their scopes, JSONata order, history events."""

from __future__ import annotations

from asl_airflow.asl import Interpreter, errors


def run(doc: dict, input_: object = None, **kw: object) -> object:
    return Interpreter(doc, sleep=kw.pop("sleep", lambda s: None), **kw).execute(input_)  # type: ignore[arg-type]


def types(result: object) -> list[str]:
    return [e["type"] for e in result.history]  # type: ignore[attr-defined]


def test_output_sees_variables_from_before_assign() -> None:
    doc = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"},
        "B": {"Type": "Pass", "Assign": {"x": "{% $x + 1 %}"}, "Output": {"old": "{% $x %}"}, "Next": "C"},
        "C": {"Type": "Pass", "Output": {"new": "{% $x %}"}, "End": True}}}
    result = run(doc)
    assert result.output == {"new": 2}


def test_map_scope_does_not_leak_and_sees_outer() -> None:
    doc = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"outer": 5}, "Result": [1, 2], "Next": "M"},
        "M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {
            "I": {"Type": "Pass", "Assign": {"inner": 1}, "Parameters": {"v.$": "$outer"}, "End": True}}},
            "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$inner", "IsPresent": True, "Next": "Bad"}],
                  "Default": "Ok"},
        "Bad": {"Type": "Fail", "Error": "Leaked"},
        "Ok": {"Type": "Succeed"}}}
    result = run(doc)
    assert result.status == "SUCCEEDED" and result.output == [{"v": 5}, {"v": 5}]
    assert types(result)[3:8] == ["MapStateEntered", "MapStateStarted", "MapIterationStarted", "PassStateEntered",
                                  "PassStateExited"]


def test_wait_sleeps_through_the_injected_sleep() -> None:
    slept: list[float] = []
    doc = {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}}
    assert run(doc, {"s": 7}, sleep=slept.append).status == "SUCCEEDED"
    assert slept == [7.0]


def test_parallel_branch_failure_is_caught() -> None:
    doc = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [
            {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "c"}}}],
            "Catch": [{"ErrorEquals": ["Boom"], "Next": "D"}], "End": True},
        "D": {"Type": "Pass", "End": True}}}
    result = run(doc)
    assert result.output == {"Error": "Boom", "Cause": "c"}
    assert "ParallelStateFailed" in types(result)


def test_distributed_map_tolerated_failures() -> None:
    doc = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ToleratedFailureCount": 1, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "F"}],
                      "Default": "S"},
                "F": {"Type": "Fail", "Error": "Two"}, "S": {"Type": "Succeed"}}}, "End": True}}}
    assert run(doc, [1, 2, 3]).status == "SUCCEEDED"
    result = run(doc, [2, 2, 3])
    assert result.error == errors.EXCEED_TOLERATED_FAILURE_THRESHOLD
    assert "MapRunFailed" in types(result)


def test_item_reader_and_batcher_go_through_the_invoker() -> None:
    calls: list[str] = []

    def invoker(resource: str, parameters: object, state: dict, env: object) -> object:
        calls.append(resource)
        return [{"n": i} for i in range(5)]

    doc = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b"}},
        "ItemBatcher": {"MaxItemsPerBatch": 2}, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, "End": True}}}
    result = run(doc, {}, invoker=invoker)
    assert calls == ["arn:aws:states:::s3:getObject"]
    assert [len(b["Items"]) for b in result.output] == [2, 2, 1]


def test_query_evaluation_error_writes_evaluation_failed() -> None:
    doc = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Output": "{% $nope %}", "End": True}}}
    result = run(doc)
    assert result.error == errors.QUERY_EVALUATION_ERROR
    assert types(result) == ["ExecutionStarted", "PassStateEntered", "EvaluationFailed", "ExecutionFailed"]


def test_data_limit_exceeded() -> None:
    doc = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "x" * (300 * 1024), "End": True}}}
    assert run(doc).error == errors.DATA_LIMIT_EXCEEDED
