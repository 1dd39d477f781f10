"""``test_state`` against TestState responses AWS recorded (LocalStack's AWS-validated snapshots in
``../shared/asl-corpus``): the same template, input, mock and configuration must give AWS's status,
output, error, cause, nextState and inspection data. Skips when the corpus is not beside the checkout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from asl_airflow.asl.test_state import TestStateError, test_state

ROOT = Path(__file__).resolve().parents[3].parent / "shared" / "asl-corpus" / "localstack"
SFN = "tests/aws/services/stepfunctions"
TEMPLATES = f"{SFN}/templates/test_state/statemachines"


def _corpus() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    if not (ROOT / "templates.json").exists():
        pytest.skip(f"the ASL corpus is not at {ROOT}")
    templates = json.loads((ROOT / "templates.json").read_text())
    snapshots: dict[str, dict[str, Any]] = {}
    for path in (ROOT / SFN / "v2" / "test_state").glob("*.snapshot.json"):
        validated = json.loads(path.with_name(path.name.replace("snapshot", "validation")).read_text())
        for key, value in json.loads(path.read_text()).items():
            if key in validated:  # recorded against real AWS
                snapshots[key.split("::")[-1]] = value["recorded-content"]
    return templates, snapshots


def _template(templates: dict[str, Any], name: str) -> dict[str, Any]:
    return templates[f"{TEMPLATES}/{name}.json5"]


def _json(value: Any) -> Any:
    """The snapshots keep some JSON texts as text: compare values."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _expected(recorded: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in recorded.items() if k != "ResponseMetadata"}
    if "output" in out:
        out["output"] = _json(out["output"])
    if "inspectionData" in out:
        out["inspectionData"] = {k: _json(v) for k, v in out["inspectionData"].items()}
    return out


def _without_context(value: Any) -> Any:
    """Outputs that embed ``$$``/``$states.context`` carry AWS's ARNs and dates: compare the rest."""
    if isinstance(value, dict):
        return {k: _without_context(v) for k, v in value.items() if k not in ("context", "ja_states_context")}
    return value


INSPECTION_STATES = {
    "BASE_PASS_STATE": "base_pass_state", "BASE_RESULT_PASS_STATE": "base_result_pass_state",
    "IO_PASS_STATE": "io_pass_state", "IO_RESULT_PASS_STATE": "io_result_pass_state",
    "BASE_FAIL_STATE": "base_fail_state", "BASE_SUCCEED_STATE": "base_succeed_state",
    "BASE_CHOICE_STATE": "base_choice_state",
}


@pytest.mark.parametrize("level", ["INFO", "DEBUG", "TRACE"])
@pytest.mark.parametrize("case", sorted(INSPECTION_STATES))
def test_inspection_levels(case: str, level: str) -> None:
    templates, snapshots = _corpus()
    recorded = snapshots[f"test_base_inspection_level_{level.lower()}[{case}]"]["test_case_response"]
    # the input AWS ran with is in the DEBUG recording's inspection data
    data = snapshots[f"test_base_inspection_level_debug[{case}]"]["test_case_response"]["inspectionData"]["input"]
    got = test_state(_template(templates, INSPECTION_STATES[case]), input=data, inspection_level=level)
    assert got == _expected(recorded)


@pytest.mark.parametrize("level", ["INFO", "DEBUG", "TRACE"])
def test_catch_of_a_mocked_error(level: str) -> None:
    templates, snapshots = _corpus()
    recorded = snapshots[f"test_state_task_catch_error[{level}]"]
    for key, error, cause in (("test_catch_mock_exception_response", "MockException", "Mock the cause of the error."),
                              ("catch_task_failed_response", "States.TaskFailed", "The task failed.")):
        got = test_state(_template(templates, "base_task_state_catch"), input={"Value": "HelloWorld"},
                         mock={"errorOutput": {"error": error, "cause": cause}}, inspection_level=level)
        expected = _expected(recorded[key])
        assert got["output"]["context"]["State"] == {**expected["output"]["context"]["State"],
                                                      "EnteredTime": got["output"]["context"]["State"]["EnteredTime"]}
        got["output"], expected["output"] = _without_context(got["output"]), _without_context(expected["output"])
        assert got == expected


@pytest.mark.parametrize("level", ["DEBUG", "TRACE"])
def test_retrier_retry_count(level: str) -> None:
    """retrierRetryCount 4 of a 5-attempt retrier: RETRIABLE after 1 * 2^4 s; 5: the retrier is spent."""
    templates, snapshots = _corpus()
    recorded = snapshots[f"test_state_configuration_retrier_retry_count[{level}]"]
    mock = {"errorOutput": {"error": "MockException", "cause": "Mock the cause of the error."}}
    data = {"Values": ["first", "second", "third"]}
    for key, count in (("below_tolerated_retry_count_with_backoff", 4), ("exceeds_tolerated_retry_count", 5)):
        got = test_state(_template(templates, "base_task_state_retry"), input=data, mock=mock,
                         inspection_level=level, state_configuration={"retrierRetryCount": count})
        assert got == _expected(recorded[key])


@pytest.mark.parametrize("level", ["INFO", "DEBUG", "TRACE"])
def test_map_iteration_failure_count(level: str) -> None:
    """One failed iteration is tolerated; two exceed ToleratedFailureCount and the Map's retrier fires."""
    templates, snapshots = _corpus()
    recorded = snapshots[f"test_map_state_failure_count[{level}-BASE_MAP_STATE_RETRY]"]
    data = {"Values": ["first", "second", "third"]}
    for key, failures in (("below_tolerated_failure", 1), ("exceeds_tolerated_failure", 2)):
        got = test_state(_template(templates, "base_map_state_retry"), input=data, mock={"result": "[1, 1, 1]"},
                         inspection_level=level, state_configuration={"mapIterationFailureCount": failures})
        assert got == _expected(recorded[key])


@pytest.mark.parametrize("level", ["INFO", "DEBUG", "TRACE"])
def test_parallel_with_a_mocked_result(level: str) -> None:
    templates, snapshots = _corpus()
    recorded = snapshots[f"test_io_parallel_state_mock_success[{level}]"]["test_case_response"]
    got = test_state(_template(templates, "io_parallel_state"), input={"parallelInput": {"data": "input_value"}},
                     mock={"result": json.dumps([{"branch1": "result"}, {"branch2": "result"}])},
                     inspection_level=level)
    assert got == _expected(recorded)


@pytest.mark.parametrize("level", ["INFO", "DEBUG", "TRACE"])
@pytest.mark.parametrize("state", ["State0", "State1"])
def test_one_state_of_a_machine(level: str, state: str) -> None:
    templates, snapshots = _corpus()
    recorded = snapshots[f"test_base_state_name_multi_state[{level}-{state}]"]["test_case_response"]
    got = test_state(_template(templates, "base_multi_state_machine"), state_name=state,
                     input={"Value": "HelloWorld"}, inspection_level=level)
    assert got == _expected(recorded)


def test_variables_are_seen_and_reported() -> None:
    templates, snapshots = _corpus()
    recorded = snapshots["test_state_with_variables[base_expressions]"]["test_case_response"]
    definition = templates[f"{SFN}/templates/outputdecl/statemachines/base_expr.json5"]
    got = test_state(definition, state_name="State0", input={"input_values": [1, 2, 3]}, inspection_level="DEBUG",
                     variables={"var_input_value": "test_value", "var_constant_1": 10})
    assert _without_context(got) == _without_context(_expected(recorded))


def test_requests_aws_refuses() -> None:
    templates, _ = _corpus()
    machine = _template(templates, "base_multi_state_machine")
    with pytest.raises(TestStateError, match="ValidationException"):
        test_state(machine, state_name="NoSuchState")
    with pytest.raises(TestStateError, match="Mocked result must be valid JSON"):
        test_state(_template(templates, "base_lambda_service_task_state"), mock={"result": "not json"})
    with pytest.raises(TestStateError, match="ValidationException"):
        test_state(_template(templates, "base_pass_state"), mock={"result": "{}"})
    with pytest.raises(TestStateError, match="ValidationException"):
        test_state(_template(templates, "io_parallel_state"))  # Parallel needs a mock
    with pytest.raises(TestStateError, match="ValidationException"):
        test_state(_template(templates, "io_parallel_state"), mock={"result": "[1]"})  # one per branch
    with pytest.raises(TestStateError, match="InvalidDefinition"):
        test_state({"Type": "Nope"})
