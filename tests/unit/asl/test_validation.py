"""Validation messages: file, JSON pointer and what to change; never a traceback."""

from __future__ import annotations

import pytest
from asl_airflow.asl import AslValidationError, load_definition
from asl_airflow.asl.validation import validate


def machine(**states: dict) -> dict:
    return {"StartAt": next(iter(states)), "States": states}


def problems(doc: object) -> list[str]:
    return validate(doc, "m.asl.json")


@pytest.mark.parametrize("doc,pointer,words", [
    (machine(A={"Type": "Pass", "End": True, "Bogus": 1}), "/States/A/Bogus", "not valid in a Pass"),
    (machine(A={"Type": "Pass", "Next": "Nowhere"}), "/States/A/Next", "not in States"),
    (machine(A={"Type": "Pass"}), "/States/A", "exactly one of Next"),
    (machine(A={"Type": "Pass", "End": True}, B={"Type": "Pass", "End": True}), "/States/B", "unreachable"),
    (machine(A={"Type": "Choice", "Default": "A"}), "/States/A/Choices", "non-empty Choices"),
    (machine(A={"Type": "Task", "Resource": "arn:x", "End": True,
                "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]}),
     "/States/A/Retry/0/ErrorEquals", "States.ALL must appear alone"),
    (machine(A={"Type": "Task", "Resource": "arn:x", "End": True,
                "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]}), "/States/A/Retry/0/BackoffRate", ">= 1"),
    (machine(A={"Type": "Pass", "End": True, "QueryLanguage": "JSONata", "Parameters": {}}),
     "/States/A/Parameters", "JSONPath field"),
    (machine(A={"Type": "Pass", "End": True, "Output": {}}), "/States/A/Output", "JSONata"),
    (machine(A={"Type": "Pass", "End": True, "InputPath": "$.a[?(@.b=="}), "/States/A/InputPath", "JSONPath"),
    (machine(A={"Type": "Pass", "End": True, "Parameters": {"x.$": "States.Nope(1)"}}),
     "/States/A/Parameters/x.$", "unknown intrinsic"),
    (machine(A={"Type": "Pass", "End": True, "ResultPath": "$.a[*]"}), "/States/A/ResultPath", "Reference Path"),
    (machine(A={"Type": "Wait", "End": True, "Timestamp": "2020-01-01 00:00:00"}), "/States/A/Timestamp",
     "RFC3339"),
    (machine(A={"Type": "Pass", "End": True, "QueryLanguage": "JSONata", "Output": "{% $x + %}"}),
     "/States/A/Output", "invalid JSONata"),
    ({"StartAt": "A"}, "/", "[States]"),
])
def test_problem_messages(doc: dict, pointer: str, words: str) -> None:
    found = problems(doc)
    assert any(p.startswith(f"m.asl.json:{pointer}: ") and words in p for p in found), found


def test_valid_machine_has_no_problems() -> None:
    doc = machine(
        A={"Type": "Pass", "Parameters": {"x.$": "States.Format('{}', $.a)"}, "Next": "M"},
        M={"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, "Next": "C"},
        C={"Type": "Choice", "Choices": [{"Variable": "$.x", "StringEquals": "1", "Next": "S"}], "Default": "F"},
        S={"Type": "Succeed"},
        F={"Type": "Fail", "Error": "E"},
    )
    assert problems(doc) == []


@pytest.mark.parametrize("doc", [None, [], "x", {"States": []}, {"StartAt": 1, "States": {"A": None}},
                                 {"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [1, {"And": 3}]}}}])
def test_garbage_never_raises(doc: object) -> None:
    assert problems(doc)


def test_load_definition_raises_with_every_problem() -> None:
    with pytest.raises(AslValidationError) as info:
        load_definition(machine(A={"Type": "Pass"}, B={"Type": "Nope"}))
    assert len(info.value.problems) >= 2
