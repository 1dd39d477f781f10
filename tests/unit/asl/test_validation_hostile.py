"""Hostile definitions: every one gets a clear ``<file>:<pointer>: <message>``, never an exception.

The reproducers of issue 10 (definition half): non-UTF-8 files, deep nesting, huge numbers, null
Retry/Catch, wrong types in transitions, duplicate state names, and the limits AWS documents for
timeouts and retriers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from asl_airflow.asl import AslValidationError, load_definition
from asl_airflow.asl.validation import MAX_NESTING, MAX_SECONDS, check_structure, validate

LAMBDA = "arn:aws:states:::lambda:invoke"


def machine(**states: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


def task(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": LAMBDA, "Parameters": {"FunctionName": "f"}, "End": True, **fields}


def problems_of(doc: Any) -> list[str]:
    with pytest.raises(AslValidationError) as info:
        load_definition(doc, source="m.asl.json")
    return info.value.problems


def assert_problem(problems: list[str], pointer: str, words: str) -> None:
    assert any(p.startswith(f"m.asl.json:{pointer}: ") and words in p for p in problems), problems


# -- files ------------------------------------------------------------------------------------------


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "m.asl.json"
    path.write_bytes(data)
    return path


def _load_file(path: Path) -> list[str]:
    with pytest.raises(AslValidationError) as info:
        load_definition(path)
    assert all(p.startswith(f"{path}:/") for p in info.value.problems), info.value.problems
    return info.value.problems


def test_non_utf8_file_is_a_problem_naming_the_file(tmp_path: Path) -> None:
    text = '{"Comment": "caf\xe9", "StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}'
    [problem] = _load_file(_file(tmp_path, text.encode("latin-1")))
    assert "not UTF-8" in problem and "0xe9" in problem and "line 1" in problem


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = _file(tmp_path, b'\xef\xbb\xbf{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}')
    assert load_definition(path).start_at == "A"


@pytest.mark.parametrize("depth", [MAX_NESTING + 10, 1000, 100_000])
def test_deep_nesting_in_a_file(tmp_path: Path, depth: int) -> None:
    result = "[" * depth + "]" * depth
    text = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Result": ' + result + "}}}"
    [problem] = _load_file(_file(tmp_path, text.encode()))
    assert f"more than {MAX_NESTING} levels" in problem


def test_deep_nesting_in_a_dict() -> None:
    doc = machine(A={"Type": "Pass", "End": True, "Result": []})
    inner = doc["States"]["A"]["Result"]
    for _ in range(5000):
        inner.append([])
        inner = inner[0]
    [problem] = problems_of(doc)
    assert problem.startswith("m.asl.json:/States/A/Result/0/") and f"more than {MAX_NESTING} levels" in problem


@pytest.mark.parametrize("literal,words", [
    ("1" * 4301, "more than 4,300 digits"),
    ("NaN", "NaN is not valid JSON"),
    ("-Infinity", "-Infinity is not valid JSON"),
])
def test_numbers_json_does_not_have(tmp_path: Path, literal: str, words: str) -> None:
    text = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Result": ' + literal + "}}}"
    [problem] = _load_file(_file(tmp_path, text.encode()))
    assert words in problem


def test_definition_over_one_megabyte(tmp_path: Path) -> None:
    doc = machine(A={"Type": "Pass", "End": True, "Result": "x" * (1024 * 1024)})
    [problem] = _load_file(_file(tmp_path, json.dumps(doc).encode()))
    assert "1 MB" in problem


def test_python_values_json_cannot_hold() -> None:
    problems = problems_of(machine(A={"Type": "Pass", "End": True, "Result": {1: {2}, "n": float("nan")}}))
    assert_problem(problems, "/States/A/Result", "keys must be strings")
    assert_problem(problems, "/States/A/Result/n", "not a JSON number")
    assert check_structure({"x": 10 ** 5000}, "m.asl.json") == [
        "m.asl.json:/: the definition holds a number of more than 4,300 digits; write it as a string"]


# -- fields ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["Retry", "Catch"])
def test_null_retry_and_catch_are_rejected(field: str) -> None:
    assert_problem(problems_of(machine(A=task(**{field: None}))), f"/States/A/{field}", "must be an array")


def test_wrong_types_in_transitions_report_every_problem() -> None:
    problems = problems_of(machine(
        A={"Type": "Pass", "Next": ["B"]},
        B={"Type": "Pass", "End": True, "Bogus": 1},
        C={"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": True, "Next": {"n": 1}}], "Default": 7},
        D=task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": ["A"]}]),
    ))
    assert_problem(problems, "/States/A/Next", "must be the name of a state")
    assert_problem(problems, "/States/B/Bogus", "not valid in a Pass")
    assert_problem(problems, "/States/C/Choices/0/Next", "must be the name of a state")
    assert_problem(problems, "/States/C/Default", "must be the name of a state")
    assert_problem(problems, "/States/D/Catch/0/Next", "must be the name of a state")
    assert not any("could not be checked" in p for p in problems), problems


@pytest.mark.parametrize("where", ["top", "state", "branch", "retrier", "catcher", "rule"])
def test_comment_must_be_a_string(where: str) -> None:
    state: dict[str, Any] = task(Retry=[{"ErrorEquals": ["X"]}], Catch=[{"ErrorEquals": ["X"], "Next": "B"}],
                                 End=None)
    del state["End"]
    state["Next"] = "B"
    doc: dict[str, Any] = machine(A=state, B={"Type": "Choice", "Choices": [
        {"Variable": "$.x", "IsNull": True, "Next": "P"}], "Default": "P"},
        P={"Type": "Parallel", "End": True, "Branches": [machine(Q={"Type": "Pass", "End": True})]})
    target, pointer = {
        "top": (doc, "/Comment"),
        "state": (state, "/States/A/Comment"),
        "branch": (doc["States"]["P"]["Branches"][0], "/States/P/Branches/0/Comment"),
        "retrier": (state["Retry"][0], "/States/A/Retry/0/Comment"),
        "catcher": (state["Catch"][0], "/States/A/Catch/0/Comment"),
        "rule": (doc["States"]["B"]["Choices"][0], "/States/B/Choices/0/Comment"),
    }[where]
    assert validate(doc, "m.asl.json") == []
    target["Comment"] = 1.5
    assert_problem(problems_of(doc), pointer, "Comment must be a string")


@pytest.mark.parametrize("doc,pointer", [
    (machine(A={"Type": "Parallel", "End": True, "Branches": [machine(A={"Type": "Pass", "End": True})]}),
     "/States/A/Branches/0/States/A"),
    (machine(P={"Type": "Parallel", "End": True, "Branches": [machine(B={"Type": "Pass", "End": True}),
                                                               machine(B={"Type": "Pass", "End": True})]}),
     "/States/P/Branches/1/States/B"),
    (machine(M={"Type": "Map", "Next": "B", "ItemProcessor": machine(B={"Type": "Pass", "End": True})},
             B={"Type": "Pass", "End": True}), "/States/B"),
])
def test_duplicate_state_names_across_branches(doc: dict[str, Any], pointer: str) -> None:
    assert_problem(problems_of(doc), pointer, "DUPLICATE_STATE_NAME")


@pytest.mark.parametrize("state,pointer,words", [
    (task(TimeoutSeconds=2 ** 63), "/States/A/TimeoutSeconds", f"between 1 and {MAX_SECONDS}"),
    (task(TimeoutSeconds=0), "/States/A/TimeoutSeconds", "between 1"),
    (task(TimeoutSeconds=True), "/States/A/TimeoutSeconds", "between 1"),
    (task(HeartbeatSeconds=MAX_SECONDS + 1), "/States/A/HeartbeatSeconds", "between 1"),
    ({"Type": "Wait", "End": True, "Seconds": MAX_SECONDS + 1}, "/States/A/Seconds", "between 0 and 99999999"),
    (task(Retry=[{"ErrorEquals": ["X"], "IntervalSeconds": 10 ** 8}]), "/States/A/Retry/0/IntervalSeconds",
     "between 1 and 99999999"),
    (task(Retry=[{"ErrorEquals": ["X"], "MaxAttempts": 10 ** 8}]), "/States/A/Retry/0/MaxAttempts",
     "between 0 and 99999999"),
    (task(Retry=[{"ErrorEquals": ["X"], "MaxDelaySeconds": 31_622_401}]), "/States/A/Retry/0/MaxDelaySeconds",
     "between 1 and 31622400"),
    (task(Retry=[{"ErrorEquals": ["X"], "BackoffRate": "2"}]), "/States/A/Retry/0/BackoffRate", ">= 1.0"),
])
def test_limits_aws_documents(state: dict[str, Any], pointer: str, words: str) -> None:
    assert_problem(problems_of(machine(A=state)), pointer, words)


def test_what_aws_accepts_at_the_limits_validates() -> None:
    doc = machine(
        A=task(TimeoutSeconds=MAX_SECONDS, HeartbeatSeconds=MAX_SECONDS - 1, End=None, Next="W",
               Retry=[{"ErrorEquals": ["X"], "IntervalSeconds": MAX_SECONDS, "MaxAttempts": MAX_SECONDS,
                       "MaxDelaySeconds": 31_622_400, "BackoffRate": 1e300}]),
        W={"Type": "Wait", "Seconds": MAX_SECONDS, "End": True},
    )
    doc["TimeoutSeconds"] = MAX_SECONDS
    del doc["States"]["A"]["End"]
    assert validate(doc, "m.asl.json") == []


@pytest.mark.parametrize("value", [None, True, 1.5, "x", [], {}, [None], {"a": None}, -1, 2 ** 70])
@pytest.mark.parametrize("field", ["Type", "Next", "End", "Comment", "Resource", "Parameters", "ResultPath",
                                   "InputPath", "Retry", "Catch", "TimeoutSeconds", "HeartbeatSeconds",
                                   "TimeoutSecondsPath", "Credentials", "Assign", "QueryLanguage", "Output"])
def test_any_value_in_any_task_field_never_raises(field: str, value: Any) -> None:
    doc = machine(A=task(**{field: value}))
    found = validate(doc, "m.asl.json")
    assert not any("could not be checked" in p for p in found), found


@pytest.mark.parametrize("fields,pointer,words", [
    ({"ItemBatcher": 5}, "/States/M/ItemBatcher", "must be an object"),
    ({"ItemBatcher": {"MaxItemsPerBatch": "x"}}, "/States/M/ItemBatcher/MaxItemsPerBatch", "integer >= 1"),
    ({"ItemBatcher": {"BatchInput": [1]}}, "/States/M/ItemBatcher/BatchInput", "must be an object"),
    ({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": 3}},
     "/States/M/ItemReader/ReaderConfig", "must be an object"),
    ({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"MaxItems": -1}}},
     "/States/M/ItemReader/ReaderConfig/MaxItems", "integer >= 0"),
])
def test_distributed_map_settings_of_the_wrong_type(fields: dict[str, Any], pointer: str, words: str) -> None:
    doc = machine(M={"Type": "Map", "End": True, **fields, "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED"}, **machine(X={"Type": "Pass", "End": True})}})
    assert_problem(problems_of(doc), pointer, words)
