"""JSONPath: simple paths, the jsonpath-ng fallback, ResultPath placement, the context object."""

from __future__ import annotations

import pytest
from asl_airflow.asl import errors, paths, payload

DATA = {"a": {"b": [10, 20, {"c": "x"}]}, "k y": 1, "items": [{"v": 1}, {"v": 2}]}


@pytest.mark.parametrize("path,expected", [
    ("$", DATA), ("$.a.b[1]", 20), ("$.a.b[-1].c", "x"), ("$['k y']", 1), ('$["a"]["b"][0]', 10),
    ("$.items[*].v", [1, 2]), ("$.items[1:]", [{"v": 2}]), ("$..c", ["x"]),
    ("$.items[?(@.v > 1)].v", [2]),
])
def test_get(path: str, expected: object) -> None:
    assert paths.get(DATA, path) == expected


def test_missing_definite_path_raises() -> None:
    with pytest.raises(paths.PathNotFound):
        paths.get(DATA, "$.a.nope")


def test_context_paths_read_the_context() -> None:
    assert paths.get({}, "$$.Execution.Name", {"Execution": {"Name": "n"}}) == "n"


def test_set_at_creates_objects_and_copies() -> None:
    original = {"a": 1}
    out = paths.set_at(original, "$.x.y", 2)
    assert out == {"a": 1, "x": {"y": 2}} and original == {"a": 1}
    assert paths.set_at(original, "$", 5) == 5


def test_set_at_into_a_scalar_is_result_path_match_failure() -> None:
    with pytest.raises(errors.AslError) as info:
        paths.set_at({"a": 1}, "$.a.b", 2)
    assert info.value.error == errors.RESULT_PATH_MATCH_FAILURE


def test_payload_template() -> None:
    out = payload.render(
        {"x.$": "$.a.b[0]", "lit": "$.not_a_path", "n": {"c.$": "$$.Map.Item.Index"}, "v.$": "$var.k"},
        DATA, {"Map": {"Item": {"Index": 3}}}, {"var": {"k": "V"}},
    )
    assert out == {"x": 10, "lit": "$.not_a_path", "n": {"c": 3}, "v": "V"}


def test_payload_missing_path_is_runtime_error() -> None:
    with pytest.raises(errors.AslError) as info:
        payload.render({"x.$": "$.nope"}, {}, {}, {})
    assert info.value.error == errors.RUNTIME
