"""Choice operators (JSONPath) and the Choice state outcome, including NoChoiceMatched."""

from __future__ import annotations

import pytest
from asl_airflow.asl import choice, errors, states
from asl_airflow.asl.context import ExecutionInfo


def rule(op: str, value: object, variable: str = "$.v") -> dict:
    return {"Variable": variable, op: value, "Next": "X"}


@pytest.mark.parametrize("op,value,data,expected", [
    ("StringEquals", "a", {"v": "a"}, True),
    ("StringEquals", "1", {"v": 1}, False),
    ("StringLessThan", "b", {"v": "a"}, True),
    ("StringGreaterThanEquals", "a", {"v": "a"}, True),
    ("NumericEquals", 1, {"v": 1.0}, True),
    ("NumericEquals", 1, {"v": True}, False),
    ("NumericLessThan", 2, {"v": 1}, True),
    ("NumericGreaterThan", 2, {"v": 1}, False),
    ("NumericLessThanEquals", 1, {"v": 1}, True),
    ("BooleanEquals", False, {"v": False}, True),
    ("BooleanEquals", False, {"v": 0}, False),
    ("TimestampEquals", "2020-01-01T00:00:00Z", {"v": "2020-01-01T01:00:00+01:00"}, True),
    ("TimestampLessThan", "2020-01-01T00:00:00Z", {"v": "2019-12-31T23:59:59.5Z"}, True),
    ("TimestampGreaterThan", "2020-01-01T00:00:00Z", {"v": "2020-01-01 00:00:01Z"}, False),
    ("IsNull", True, {"v": None}, True),
    ("IsPresent", False, {}, True),
    ("IsNumeric", True, {"v": 1.5}, True),
    ("IsString", True, {"v": 1}, False),
    ("IsBoolean", True, {"v": False}, True),
    ("IsTimestamp", True, {"v": "2020-01-01T00:00:00Z"}, True),
    ("IsTimestamp", True, {"v": "2020-01-01"}, False),
    ("StringMatches", "log-*.txt", {"v": "log-1.txt"}, True),
    ("StringMatches", r"a\*b", {"v": "a*b"}, True),
    ("StringMatches", r"a\*b", {"v": "axb"}, False),
    ("StringMatches", r"a\\*", {"v": "a\\zz"}, True),
    ("StringEqualsPath", "$.w", {"v": "a", "w": "a"}, True),
    ("NumericGreaterThanPath", "$.w", {"v": 3, "w": 2}, True),
])
def test_operator(op: str, value: object, data: dict, expected: bool) -> None:
    if op == "IsPresent":
        assert choice.evaluate_rule(rule(op, value), data, {}, {}) is expected
        return
    assert choice.evaluate_rule(rule(op, value), data, {}, {}) is expected


def test_boolean_composition() -> None:
    r = {"And": [{"Variable": "$.a", "NumericGreaterThan": 1},
                 {"Not": {"Variable": "$.b", "StringEquals": "x"}},
                 {"Or": [{"Variable": "$.c", "IsNull": True}, {"Variable": "$.c", "BooleanEquals": True}]}]}
    assert choice.evaluate_rule(r, {"a": 2, "b": "y", "c": None}, {}, {})
    assert not choice.evaluate_rule(r, {"a": 2, "b": "x", "c": None}, {}, {})


def test_missing_variable_is_runtime_error() -> None:
    with pytest.raises(errors.AslError) as info:
        choice.evaluate_rule(rule("StringEquals", "a"), {}, {}, {})
    assert info.value.error == errors.RUNTIME


def test_variables_in_rules() -> None:
    assert choice.evaluate_rule(rule("NumericEquals", 3, "$n"), {}, {}, {"n": 3})


def _env() -> states.StateEnv:
    return states.StateEnv(ExecutionInfo(input={}), "C", {})


def test_run_choice_default_and_no_match() -> None:
    state = {"Type": "Choice", "Choices": [rule("NumericEquals", 1)], "Default": "D"}
    assert states.run_choice(state, {"v": 1}, _env(), "JSONPath").next == "X"
    assert states.run_choice(state, {"v": 2}, _env(), "JSONPath").next == "D"
    del state["Default"]
    with pytest.raises(errors.AslError) as info:
        states.run_choice(state, {"v": 2}, _env(), "JSONPath")
    assert info.value.error == errors.NO_CHOICE_MATCHED


def test_run_choice_jsonata_condition_and_assign() -> None:
    state = {"Type": "Choice", "Choices": [
        {"Condition": "{% $states.input.v > 1 %}", "Next": "Big", "Assign": {"size": "big"}}],
        "Default": "Small"}
    outcome = states.run_choice(state, {"v": 5}, _env(), "JSONata")
    assert (outcome.next, outcome.variables, outcome.output) == ("Big", {"size": "big"}, {"v": 5})
