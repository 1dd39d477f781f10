"""The Airflow engine agrees with AWS wherever the local engine does (issue 4, item 3).

Every corpus execution that agrees on the local engine (``test_conformance_executions.py``, i.e.
not in exceptions.json) is compiled to a DAG and run with ``dag.test()``; status, output, error, the
location AWS puts in front of a state's own error's cause (``An error occurred while executing the
state 'X' (entered at the event id #N).``) and the sequence of history event types must match AWS's
recording exactly as the local engine's do. The corpus has no such error inside a Parallel branch or
a Map item, nor a caught one: :func:`test_located_causes_agree_with_the_local_engine` runs those.
All cases run in one Airflow worker process (``airflow_engine.py``); waits and retry delays are
shortened there, never in product code.

How many cases run: ``ASL_EQUIVALENCE=all`` (``make conformance``) runs every one; the default
(``ci``, what ``make test`` runs) takes the first ``CI_PER_DEFINITION`` executions of every distinct
definition, which covers every template. ``ASL_EQUIVALENCE=off`` skips the suite; a number N takes
the first N executions of every definition.

Recordings that ended while AWS was still waiting (``corpus.wants_abort``; the local suite aborts
them at their first Wait) cannot end that way on a DAG run: nothing stops it mid-wait. They are
counted apart: the DAG run (its Wait shortened) must record AWS's events up to the Wait and then
finish exactly as the local engine finishes the same execution without aborting.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from typing import Any

import asl_corpus as corpus
import pytest
from airflow_engine import STATS, AirflowEngine, EngineError, difference_group, reason_group
from asl_airflow.asl import Interpreter

pytestmark = pytest.mark.conformance

#: executions per distinct definition in the CI subset
CI_PER_DEFINITION = 5
MODE = os.environ.get("ASL_EQUIVALENCE", "ci").strip().lower()


def agreeing_cases() -> list[corpus.CaseExecution]:
    """The corpus executions the local engine agrees on (what this suite must reproduce)."""
    if not corpus.available():
        return []
    exceptions = corpus.load_exceptions()
    return [case for case in corpus.executions() if case.id not in exceptions]


def select(cases: list[corpus.CaseExecution], mode: str) -> list[corpus.CaseExecution]:
    if mode == "all":
        return cases
    if mode in ("off", "0", "none"):
        return []
    per = int(mode) if mode.isdigit() else CI_PER_DEFINITION
    taken: Counter[str] = Counter()
    chosen = []
    for case in cases:
        key = json.dumps(case.definition, sort_keys=True)
        if taken[key] < per:
            taken[key] += 1
            chosen.append(case)
    return chosen


ALL = agreeing_cases()
CASES = select(ALL, MODE)
STATS.update(mode=MODE, selected=len(CASES), available=len(ALL))


@pytest.fixture(scope="session")
def airflow_engine():
    engine = AirflowEngine()
    try:
        yield engine
    finally:
        STATS["warmup"] = engine.started_seconds
        engine.close()


def _fail(group: str, message: str) -> None:
    STATS["failures"][group] += 1
    pytest.fail(message, pytrace=False)


def _abort_case_problems(case: corpus.CaseExecution, result: dict[str, Any]) -> list[str]:
    """AWS's events up to the Wait, then the local engine's complete run of the same execution."""
    expected = [t for t in case.expected.get("event_types", []) if t != "ExecutionAborted"]
    types = [e["type"] for e in result.get("history", [])]
    problems = []
    if types[:len(expected)] != expected:
        problems.append(f"events: AWS recorded {expected} before it stopped, got {types}")
    local = Interpreter(case.definition, sleep=lambda seconds: None).execute(case.input).as_dict(with_history=True)
    local_types = [e["type"] for e in local["history"]]
    if (result["status"], result.get("error")) != (local["status"], local.get("error")):
        problems.append(f"status: the local engine ends {local['status']} ({local.get('error')}), "
                        f"got {result['status']} ({result.get('error')}: {result.get('cause')})")
    elif local["status"] == "SUCCEEDED" and result.get("output") != local.get("output"):
        problems.append(f"output: the local engine gives {local.get('output')!r}, got {result.get('output')!r}")
    if types != local_types:
        problems.append(f"events: the local engine records {local_types}, got {types}")
    return problems


def redacted_literal(definition: Any) -> bool:
    """A Choice rule comparing with a timestamp literal the recording tool replaced by ``date``.

    The local suite still runs these (the interpreter takes the definition as given and the rule is
    simply false); AWS validated the real timestamp when the machine was created.
    """
    if isinstance(definition, dict):
        if any(k.startswith("Timestamp") and not k.endswith("Path") and v in corpus._REDACTED_TIMESTAMPS
               for k, v in definition.items()):
            return True
        return any(redacted_literal(v) for v in definition.values())
    if isinstance(definition, list):
        return any(redacted_literal(v) for v in definition)
    return False


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_execution_agrees_on_airflow(case: corpus.CaseExecution, airflow_engine: AirflowEngine,
                                     corpus_available: None) -> None:
    if redacted_literal(case.definition):
        STATS["redacted"] += 1
        pytest.skip("not applicable: the corpus redacted the timestamp the test wrote into the definition "
                    "('date'), so the definition AWS ran cannot be rebuilt; compiling validates it and rejects it")
    try:
        result = airflow_engine.run(case.definition, case.input)
    except EngineError as exc:
        error = exc
    else:
        error = None
    if error is not None:
        _fail(f"{error.kind}: {reason_group(error.message)}", f"{error.kind}: {error.message}")
    STATS["seconds"].append(result["timings"].get("total", 0.0))
    STATS["slowest"].append((result["timings"].get("total", 0.0), case.id))
    STATS["slowest"] = sorted(STATS["slowest"], reverse=True)[:3]
    if corpus.wants_abort(case):
        problems = _abort_case_problems(case, result)
        if problems:
            _fail(f"recording ended while waiting: {problems[0].split(':', 1)[0]} differ", "\n".join(problems))
        STATS["abort_checked"] += 1
        return
    problems = corpus.compare(case, result)
    if problems:
        _fail(difference_group(case.expected, result, problems[0], case.redactions), "\n".join(problems))
    STATS["agreeing"] += 1


def test_ci_subset_covers_every_template(corpus_available: None) -> None:
    subset = select(ALL, "ci")
    assert {c.template_path for c in subset} == {c.template_path for c in ALL}
    assert {json.dumps(c.definition, sort_keys=True) for c in subset} == {
        json.dumps(c.definition, sort_keys=True) for c in ALL}


def _bad_task(next_: str, result_path: str) -> dict[str, Any]:
    """A Task whose Parameters fail (States.Runtime, no service call), caught into ``result_path``."""
    return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": next_,
            "Parameters": {"FunctionName": "f", "Payload.$": "$.missing"},
            "Catch": [{"ErrorEquals": ["States.Runtime"], "ResultPath": result_path, "Next": next_}]}


#: a state's own errors wherever the Airflow engine runs them: caught in a Parallel's second branch
#: (B1) and in a Map's items (M1), a Map item failing (M2, caught by the Map), a top-level Task (TopTask),
#: a Parallel's own ResultSelector (Sel, evaluated by its join) and a loop (one region task) ending
#: the execution (Check)
LOCATED = {"StartAt": "Prep", "States": {
    "Prep": {"Type": "Pass", "Next": "Par"},
    "Par": {"Type": "Parallel", "ResultPath": "$.par", "Next": "TopTask", "Branches": [
        {"StartAt": "A1", "States": {"A1": {"Type": "Pass", "Next": "A2"}, "A2": {"Type": "Pass", "End": True}}},
        {"StartAt": "B1", "States": {"B1": _bad_task("B2", "$.err"), "B2": {"Type": "Pass", "End": True}}}]},
    "TopTask": _bad_task("Items", "$.topErr"),
    "Items": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.mapOut", "Next": "Sel",
              "ItemProcessor": {"StartAt": "M1", "States": {
                  "M1": _bad_task("M2", "$.err"), "M2": {"Type": "Pass", "InputPath": "$.v", "End": True}}},
              "Catch": [{"ErrorEquals": ["States.Runtime"], "ResultPath": "$.mapErr", "Next": "Sel"}]},
    "Sel": {"Type": "Parallel", "ResultSelector": {"x.$": "$.nothing"}, "Next": "Inc",
            "Branches": [{"StartAt": "S1", "States": {"S1": {"Type": "Pass", "End": True}}}],
            "Catch": [{"ErrorEquals": ["States.Runtime"], "ResultPath": "$.selErr", "Next": "Inc"}]},
    "Inc": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($.cnt.v, 1)"}, "ResultPath": "$.cnt",
            "Next": "Check"},
    "Check": {"Type": "Choice", "Default": "Done", "Choices": [
        {"Variable": "$.cnt.v", "NumericLessThan": 2, "Next": "Inc"},
        {"Variable": "$.nope", "NumericEquals": 1, "Next": "Inc"}]},
    "Done": {"Type": "Succeed"}}}
_WHERE = re.compile(r"the state '(\w+)' \(entered at the event id #(\d+)\)")


def _states(history: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The history as event types with the states' names, inputs and outputs (no timestamps)."""
    out = []
    for event in history:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails") or {}
        out.append((event["type"], details.get("name"), details.get("input"), details.get("output")))
    return out


def test_located_causes_agree_with_the_local_engine(airflow_engine: AirflowEngine) -> None:
    input_ = {"items": [{"v": 1}, {"w": 2}], "cnt": {"v": 0}}
    result = airflow_engine.run(LOCATED, input_)
    local = Interpreter(LOCATED, sleep=lambda seconds: None).execute(input_).as_dict(with_history=True)
    assert (result["status"], result["error"]) == (local["status"], local["error"]) == ("FAILED", "States.Runtime")
    assert corpus.location(result["cause"]) == \
        "An error occurred while executing the state 'Check' (entered at the event id #43)."
    assert result["cause"] == local["cause"]
    # every caught cause the states handed on, as each state's input and output shows it
    assert _states(result["history"]) == _states(local["history"])
    history = result["history"]
    found = {(name, int(number)) for name, number in _WHERE.findall(json.dumps([history, result["cause"]]))}
    assert found == {("B1", 10), ("TopTask", 15), ("M1", 20), ("M1", 26), ("M2", 28), ("Sel", 32), ("Check", 43)}
    for name, number in found:  # each names the event at which that state was entered
        assert history[number - 1]["id"] == number
        assert history[number - 1]["type"].endswith("StateEntered"), (name, number)
        assert history[number - 1]["stateEnteredEventDetails"]["name"] == name
