"""Property tests: real definitions, mutated at random, never make validation or compilation crash.

``load_definition`` may only raise ``AslValidationError`` (with ``<file>:<pointer>: <message>``
lines), and a definition it accepts must compile with ``asl_dag`` (which may only refuse, again
with ``AslValidationError``, a Resource no integration serves). The mutations put any JSON value
at any place of the platform's own definitions, delete fields and add ASL field names where they
do not belong. Skips cleanly where hypothesis is not installed.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")

from asl_airflow import AslValidationError, asl_dag, load_definition  # noqa: E402
from asl_airflow.asl.validation import validate  # noqa: E402

ASL_DIR = Path(__file__).resolve().parents[3] / "include" / "asl"
_SUBSTITUTIONS = {"partition": "aws", "PollSeconds": "30", "AccountId": "123456789012"}


def _real_definitions() -> list[dict[str, Any]]:
    out = []
    for path in sorted(ASL_DIR.glob("*.asl.json")):
        text = re.sub(r"\$\{([^}]+)\}", lambda m: _SUBSTITUTIONS.get(m.group(1), f"x-{m.group(1).lower()}"),
                      path.read_text())
        out.append(json.loads(text))
    return out


DEFINITIONS = _real_definitions()
FIELDS = ["Type", "Next", "End", "Comment", "Resource", "Parameters", "Arguments", "Output", "ResultPath",
          "ResultSelector", "InputPath", "OutputPath", "Retry", "Catch", "TimeoutSeconds", "HeartbeatSeconds",
          "TimeoutSecondsPath", "Choices", "Default", "Branches", "ItemProcessor", "Iterator", "ItemsPath",
          "Items", "ItemSelector", "ItemReader", "ItemBatcher", "ResultWriter", "MaxConcurrency",
          "ToleratedFailurePercentage", "ToleratedFailureCount", "Seconds", "Timestamp", "SecondsPath",
          "Error", "Cause", "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds",
          "JitterStrategy", "Assign", "QueryLanguage", "StartAt", "States", "ProcessorConfig", "Mode",
          "Variable", "StringEquals", "And", "Not", "Condition", "Credentials", "Label", "x.$"]
WORDS = ["$", "$.x", "$$.Execution.Id", "$x", "States.ALL", "States.Format('{}', $.a)", "{% 1 %}",
         "{% $states.input %}", "{% ( %}", "JSONata", "JSONPath", "Pass", "Task", "Choice", "Wait", "Succeed",
         "Fail", "Parallel", "Map", "INLINE", "DISTRIBUTED", "FULL", "arn:aws:states:::lambda:invoke",
         "2024-01-01T00:00:00Z", "a.b", "P.join", ""]

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8) | st.sampled_from(WORDS))
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


def _places(doc: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in the document."""
    out = [here]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.extend(_places(value, (*here, key)))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out.extend(_places(value, (*here, index)))
    return out


@st.composite
def mutated(draw: Any) -> dict[str, Any]:
    """A real definition with one to three random edits: replace a value, delete or add a field."""
    doc = copy.deepcopy(draw(st.sampled_from(DEFINITIONS)))
    for _ in range(draw(st.integers(1, 3))):
        place = draw(st.sampled_from(_places(doc)))
        if not place:
            continue
        parent: Any = doc
        for step in place[:-1]:
            parent = parent[step]
        key = place[-1]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[key] = draw(values)
        elif action == "delete":
            del parent[key]
        elif isinstance(parent[key], dict):
            parent[key][draw(st.sampled_from(FIELDS))] = draw(values)
        elif isinstance(parent[key], list):
            parent[key].append(draw(values))
    return doc


@hypothesis.settings(max_examples=400, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(mutated())
def test_validation_reports_never_raises(doc: dict[str, Any]) -> None:
    problems = validate(doc, "m.asl.json")
    assert all(p.startswith("m.asl.json:/") for p in problems), problems
    assert not any("could not be checked" in p for p in problems), problems


@hypothesis.settings(max_examples=120, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(mutated())
def test_load_and_compile_raise_only_validation_errors(doc: dict[str, Any]) -> None:
    try:
        load_definition(doc)
    except AslValidationError as exc:
        assert exc.problems
        return
    try:
        dag = asl_dag(doc, dag_id="fuzz")
    except AslValidationError as exc:  # a Resource no integration serves (the mutation may make one)
        assert all("/Resource: " in p for p in exc.problems), exc.problems
        return
    assert dag.tasks
    assert all(len(t.task_id) <= 250 for t in dag.tasks)
