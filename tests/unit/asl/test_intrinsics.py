"""Intrinsic functions: every one, string escapes, and the errors they raise."""

from __future__ import annotations

import pytest
from asl_airflow.asl import errors, intrinsics


def ev(expr: str, data: object = None, variables: dict | None = None) -> object:
    return intrinsics.evaluate(expr, data if data is not None else {}, {"Execution": {"Name": "x"}}, variables)


@pytest.mark.parametrize("expr,data,expected", [
    ("States.Format('Hello, {}!', $.name)", {"name": "Ana"}, "Hello, Ana!"),
    ("States.Format('{} and {}', 1, true)", {}, "1 and true"),
    ("States.Format('obj {}', $.o)", {"o": {"a": 1, "b": [1, "x"]}}, "obj {a=1, b=[1, x]}"),
    (r"States.Format('esc \{\} \' \\ {}', 'v')", {}, "esc {} ' \\ v"),
    ("States.Format($.t, 'x')", {"t": "[{}]"}, "[x]"),
    ("States.StringToJson($.s)", {"s": '{"a":[1,2]}'}, {"a": [1, 2]}),
    ("States.JsonToString($.o)", {"o": {"a": 1}}, '{"a":1}'),
    ("States.Array(1, 'a', $.x, null)", {"x": [1]}, [1, "a", [1], None]),
    ("States.ArrayPartition($.a, 2)", {"a": [1, 2, 3]}, [[1, 2], [3]]),
    ("States.ArrayContains($.a, 2)", {"a": [1, 2, 3]}, True),
    ("States.ArrayContains($.a, true)", {"a": [1]}, False),
    ("States.ArrayRange(1, 9, 2)", {}, [1, 3, 5, 7, 9]),
    ("States.ArrayGetItem($.a, 1)", {"a": [5, 6]}, 6),
    ("States.ArrayLength($.a)", {"a": [5, 6]}, 2),
    ("States.ArrayUnique($.a)", {"a": [1, 1, "1", 2]}, [1, "1", 2]),
    ("States.Base64Encode('Data to encode')", {}, "RGF0YSB0byBlbmNvZGU="),
    ("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", {}, "Data to encode"),
    ("States.Hash('input data', 'SHA-1')", {}, "aaff4a450a104cd177d28d18d74485e8cae074b7"),
    ("States.JsonMerge($.a, $.b, false)", {"a": {"x": 1, "y": {"p": 1}}, "b": {"y": {"q": 2}}},
     {"x": 1, "y": {"q": 2}}),
    ("States.MathAdd(111, -1)", {}, 110),
    ("States.MathAdd(1.5, 1)", {}, 3),
    ("States.StringSplit('1,2;3', ',;')", {}, ["1", "2", "3"]),
    ("States.ArrayLength(States.Array(1, 2, States.Array(3)))", {}, 3),
    ("States.Format('{}', $$.Execution.Name)", {}, "x"),
    ("States.Format('{}', $v)", {}, "var"),
])
def test_intrinsic(expr: str, data: object, expected: object) -> None:
    assert ev(expr, data, {"v": "var"}) == expected


def test_math_random_is_in_range_and_seeded() -> None:
    assert 1 <= ev("States.MathRandom(1, 10)") <= 10
    assert ev("States.MathRandom(1, 1000, 7)") == ev("States.MathRandom(1, 1000, 7)")


def test_uuid() -> None:
    value = ev("States.UUID()")
    assert isinstance(value, str) and len(value) == 36


@pytest.mark.parametrize("expr", [
    "States.Nope(1)", "States.ArrayLength()", "States.Format('a", "States.Format('\\x')", "States.UUID(1)",
])
def test_syntax_errors_are_rejected_at_parse(expr: str) -> None:
    with pytest.raises(intrinsics.IntrinsicSyntaxError):
        intrinsics.parse(expr)


@pytest.mark.parametrize("expr,data", [
    ("States.ArrayGetItem($.a, 5)", {"a": [1]}),
    ("States.StringToJson($.s)", {"s": "{not json"}),
    ("States.Format('{} {}', 'one')", {}),
    ("States.JsonMerge($.a, $.a, true)", {"a": {}}),
    ("States.ArrayLength($.missing)", {}),
])
def test_runtime_failures_are_states_runtime(expr: str, data: dict) -> None:
    with pytest.raises(errors.AslError) as info:
        ev(expr, data)
    assert info.value.error == errors.RUNTIME
