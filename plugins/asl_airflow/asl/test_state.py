"""TestState, offline: run ONE state as AWS's ``TestState`` API does, and answer in its shape.

AWS's TestState needs an AWS account; this is the same contract on the reference semantics:
``status`` (``SUCCEEDED``, ``FAILED``, ``RETRIABLE``, ``CAUGHT_ERROR``), ``output``, ``error``,
``cause``, ``nextState`` and, from ``DEBUG`` on, ``inspectionData`` with each step of the state's
data flow (``afterInputPath``, ``afterParameters``/``afterArguments``, ``result``,
``afterResultSelector``, ``afterResultPath``, ``variables``, ``errorDetails``). The fields present
for each state type follow AWS's recorded responses (``tests/unit/asl/test_test_state.py`` replays
them). ``mock`` gives a Task's (or a Map's/Parallel's) result or error instead of running it;
``stateConfiguration`` says which retry or Map iteration failure is being tested.

Like everything under ``asl``, this imports neither Airflow nor boto3: an unmocked Task calls the
``invoker`` the caller supplies (``asl_airflow.test_state`` passes the AWS one).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from asl_airflow.asl import errors, payload, retry, states
from asl_airflow.asl.context import ExecutionInfo
from asl_airflow.asl.interpreter import Invoker

INSPECTION_LEVELS = ("INFO", "DEBUG", "TRACE")
#: the name a lone state runs under (``$$.State.Name``), as AWS names it
SINGLE_STATE_NAME = "StateName"


class TestStateError(Exception):
    """The request itself is refused, as AWS answers HTTP 400 (``ValidationException``,
    ``InvalidDefinition``) before running anything."""

    __test__ = False  # not a pytest test class

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class _Env(states.StateEnv):
    """A StateEnv whose context object carries the caller's ``context`` fields over AWS's defaults."""

    overrides: dict[str, Any] | None = None

    def context(self) -> dict[str, Any]:
        ctx = super().context()
        if self.overrides:
            _merge(ctx, self.overrides)
        return ctx


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def _json_field(value: Any, name: str) -> Any:
    """A request field AWS takes as a JSON text; a JSON value given directly is taken as is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise TestStateError("ValidationException", f"{name} must be valid JSON") from None


def _pick_state(definition: dict[str, Any], state_name: str | None) -> tuple[str, dict[str, Any], str]:
    """``(name, state, machine query language)`` from a single state or a whole machine + stateName."""
    if not isinstance(definition, dict):
        raise TestStateError("InvalidDefinition", "The definition must be a JSON object")
    if "States" in definition:
        machine_states = definition.get("States")
        if not state_name:
            raise TestStateError("ValidationException", "stateName is required when the definition is a "
                                 "state machine")
        if not isinstance(machine_states, dict) or state_name not in machine_states:
            raise TestStateError("ValidationException", f"State '{state_name}' does not exist in the definition")
        return state_name, machine_states[state_name], definition.get("QueryLanguage", states.JSONPATH)
    if state_name:
        raise TestStateError("ValidationException", "stateName is only accepted with a state machine definition")
    return SINGLE_STATE_NAME, definition, states.JSONPATH


def _check_definition(name: str, state: dict[str, Any], language: str) -> None:
    """Validate the state as part of a one-state machine (its own Next targets may be absent)."""
    from asl_airflow.asl.validation import validate

    targets = set()
    for value in (state.get("Next"), state.get("Default")):
        if isinstance(value, str):
            targets.add(value)
    for key in ("Choices", "Catch"):
        for item in state.get(key) or []:
            if isinstance(item, dict) and isinstance(item.get("Next"), str):
                targets.add(item["Next"])
    machine = {"QueryLanguage": language, "StartAt": name,
               "States": {name: state, **{t: {"Type": "Succeed"} for t in targets if t != name}}}
    problems = validate(machine, "definition")
    if problems:
        raise TestStateError("InvalidDefinition", "; ".join(problems))


def test_state(
    definition: dict[str, Any] | str,
    *,
    input: Any = None,  # noqa: A002 - AWS's field name
    state_name: str | None = None,
    mock: dict[str, Any] | None = None,
    inspection_level: str = "INFO",
    variables: dict[str, Any] | str | None = None,
    context: dict[str, Any] | str | None = None,
    state_configuration: dict[str, Any] | None = None,
    invoker: Invoker | None = None,
) -> dict[str, Any]:
    """One state run as TestState runs it; returns TestState's response as a dict of JSON values."""
    definition = _json_field(definition, "definition")
    data = {} if input is None else _json_field(input, "input")
    variables = _json_field(variables, "variables") if variables is not None else {}
    overrides = _json_field(context, "context") if context is not None else None
    config = dict(state_configuration or {})
    if inspection_level not in INSPECTION_LEVELS:
        raise TestStateError("ValidationException", f"inspectionLevel must be one of {', '.join(INSPECTION_LEVELS)}")
    if not isinstance(variables, dict):
        raise TestStateError("ValidationException", "variables must be a JSON object")
    if overrides is not None and not isinstance(overrides, dict):
        raise TestStateError("ValidationException", "context must be a JSON object")
    name, state, language = _pick_state(definition, state_name)
    _check_definition(name, state, language)
    ql = states.query_language(state, language)
    mock = _check_mock(state, mock, config)
    env = _Env(ExecutionInfo(input=data), name, dict(variables), state_type=state["Type"],
               retry_count=int(config.get("retrierRetryCount", 0) or 0) if state["Type"] == "Task" else 0,
               overrides=overrides)
    run = _Run(state, data, env, ql, mock, config, invoker)
    response = run.execute()
    if inspection_level != "INFO":
        response["inspectionData"] = run.inspection
    return response


test_state.__test__ = False  # type: ignore[attr-defined]  # a pytest collecting it would take it for a test


def _check_mock(state: dict[str, Any], mock: dict[str, Any] | None, config: dict[str, Any]) -> dict[str, Any] | None:
    """The mock rules AWS enforces before running (its ValidationException messages)."""
    type_ = state["Type"]
    if mock is not None and not isinstance(mock, dict):
        raise TestStateError("ValidationException", "mock must be a JSON object")
    if mock and "result" in mock and "errorOutput" in mock:
        raise TestStateError("ValidationException", "A mock can have either a result or an errorOutput, not both")
    if mock and type_ in ("Pass", "Fail", "Succeed", "Choice", "Wait"):
        raise TestStateError("ValidationException", f"A mock is not accepted for a {type_} state")
    resource = state.get("Resource", "") if type_ == "Task" else ""
    needs_mock = type_ in ("Map", "Parallel") or resource.endswith((".sync", ".sync:2", ".waitForTaskToken")) \
        or ":activity:" in resource
    if needs_mock and not mock:
        raise TestStateError("ValidationException", f"A mock is required to test this {type_} state")
    if "mapIterationFailureCount" in config and type_ != "Map":
        raise TestStateError("ValidationException", "mapIterationFailureCount applies to Map states only")
    if mock and "result" in mock:
        try:
            result = json.loads(mock["result"]) if isinstance(mock["result"], str) else mock["result"]
        except ValueError:
            raise TestStateError("ValidationException", "Mocked result must be valid JSON") from None
        if type_ == "Parallel":
            if not isinstance(result, list):
                raise TestStateError("ValidationException", "The mocked result of a Parallel state must be an array")
            if len(result) != len(state.get("Branches") or []):
                raise TestStateError("ValidationException", "The mocked result must have one element per branch")
        if type_ == "Map":
            if "ResultWriter" in state and not isinstance(result, dict):
                raise TestStateError("ValidationException",
                                     "The mocked result of a Map state with a ResultWriter must be an object")
            if "ResultWriter" not in state and not isinstance(result, list):
                raise TestStateError("ValidationException", "The mocked result of a Map state must be an array")
            failures = config.get("mapIterationFailureCount")
            if isinstance(failures, int) and isinstance(result, list) and failures > len(result):
                raise TestStateError("ValidationException",
                                     "mapIterationFailureCount exceeds the number of items in the mocked result")
        return {"result": result}
    if mock and "errorOutput" in mock:
        output = mock["errorOutput"]
        if not isinstance(output, dict) or not isinstance(output.get("error"), str):
            raise TestStateError("ValidationException", "mock.errorOutput.error is required")
        caused_by = config.get("errorCausedByState")
        if caused_by is not None and caused_by not in _inner_states(state):
            raise TestStateError("ValidationException", f"errorCausedByState '{caused_by}' is not a state of this "
                                 f"{type_} state")
        return {"errorOutput": {"error": output["error"], "cause": output.get("cause")}}
    if "mapIterationFailureCount" in config:
        raise TestStateError("ValidationException", "mapIterationFailureCount needs a mocked result")
    return None


def _inner_states(state: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    machines = list(state.get("Branches") or [])
    for key in ("ItemProcessor", "Iterator"):
        if isinstance(state.get(key), dict):
            machines.append(state[key])
    for machine in machines:
        for inner_name, inner in (machine.get("States") or {}).items():
            names.add(inner_name)
            if isinstance(inner, dict):
                names |= _inner_states(inner)
    return names


class _Run:
    """The state's data flow, step by step, recording what TestState's inspection shows."""

    def __init__(self, state: dict[str, Any], data: Any, env: _Env, ql: str, mock: dict[str, Any] | None,
                 config: dict[str, Any], invoker: Invoker | None) -> None:
        self.state, self.data, self.env, self.ql = state, data, env, ql
        self.mock, self.config, self.invoker = mock, config, invoker
        self.inspection: dict[str, Any] = {"input": data}

    def see(self, key: str, value: Any) -> Any:
        self.inspection[key] = value
        return value

    # -- the whole state ---------------------------------------------------------------------------

    def execute(self) -> dict[str, Any]:
        type_ = self.state["Type"]
        try:
            if type_ == "Fail":
                if self.ql == states.JSONPATH:
                    self.see("afterInputPath", self._input_path())
                error = states.fail_error(self.state, self.data, self.env, self.ql)
                return {"status": "FAILED", "error": error.error, "cause": error.cause}
            outcome = getattr(self, f"_{type_.lower()}")()
        except errors.AslError as exc:
            return self._handle(exc)
        if outcome.variables:  # the variables after the state: the test's own plus its Assign
            self.see("variables", outcome.variables)
        response: dict[str, Any] = {"status": "SUCCEEDED", "output": outcome.output}
        if outcome.next:
            response["nextState"] = outcome.next
        return response

    def _handle(self, exc: errors.AslError) -> dict[str, Any]:
        """Retry (RETRIABLE, with the backoff AWS would wait), then Catch (CAUGHT_ERROR), else FAILED."""
        response: dict[str, Any] = {"error": exc.error, "cause": exc.cause}
        details: dict[str, Any] = {}
        recoverable = self.state["Type"] in ("Task", "Parallel", "Map") and exc.error != errors.RUNTIME
        if recoverable:
            retriers = self.state.get("Retry") or []
            spent = int(self.config.get("retrierRetryCount", 0) or 0)
            for index, retrier in enumerate(retriers):
                if errors.error_matches(retrier.get("ErrorEquals", []), exc.error):
                    counters = [0] * index + [spent]
                    step = retry.next_retry(retriers, exc.error, counters)
                    details["retryIndex"] = index
                    if step.retry:
                        details["retryBackoffIntervalSeconds"] = int(step.delay or 0)
                        self.see("errorDetails", details)
                        return {**response, "status": "RETRIABLE"}
                    break
            catchers = self.state.get("Catch") or []
            for index, catcher in enumerate(catchers):
                if errors.error_matches(catcher.get("ErrorEquals", []), exc.error):
                    details["catchIndex"] = index
                    self.see("errorDetails", details)
                    try:
                        outcome = states.catch_outcome(catcher, self.data, exc, self.env, self.ql)
                    except errors.AslError as inner:
                        return {"status": "FAILED", "error": inner.error, "cause": inner.cause}
                    if outcome.variables and outcome.variables != self.env.variables:
                        self.see("variables", outcome.variables)
                    return {**response, "status": "CAUGHT_ERROR", "output": outcome.output,
                            "nextState": outcome.next}
        if details:
            self.see("errorDetails", details)
        return {**response, "status": "FAILED"}

    # -- data-flow steps ---------------------------------------------------------------------------

    def _input_path(self) -> Any:
        return states._select(self.data, self.state.get("InputPath", "$"), self.env, "InputPath")

    def _parameters(self, after_input: Any) -> Any:
        template = self.state.get("Parameters")
        if template is None:
            return after_input
        return payload.render(template, after_input, self.env.context(), self.env.variables)

    def _output(self, result: Any, record_result: bool = True) -> states.Outcome:
        """ResultSelector, ResultPath, OutputPath (JSONPath) or Output (JSONata), with inspection."""
        state, env = self.state, self.env
        if record_result:
            self.see("result", result)
        if self.ql == states.JSONATA:
            output, variables = states.apply_result(state, self.data, result, env, self.ql)
            return states.Outcome(output, states.next_of(state), variables)
        if "ResultSelector" in state:
            result = payload.render(state["ResultSelector"], result, env.context(), env.variables)
        self.see("afterResultSelector", result)
        variables = states.assign(state.get("Assign"), result, env, self.ql)
        combined = states.apply_result_path(state.get("ResultPath", "$"), self.data, result, "ResultPath" in state)
        self.see("afterResultPath", combined)
        output = states._select(combined, state.get("OutputPath", "$"), env, "OutputPath")
        return states.Outcome(output, states.next_of(state), variables)

    # -- state types -------------------------------------------------------------------------------

    def _pass(self) -> states.Outcome:
        if self.ql == states.JSONATA:
            return states.run_pass(self.state, self.data, self.env, self.ql)
        if "Result" in self.state:
            return self._output(self.state["Result"])
        after_input = self.see("afterInputPath", self._input_path())
        return self._output(self.see("afterParameters", self._parameters(after_input)), record_result=False)

    def _succeed(self) -> states.Outcome:
        if self.ql == states.JSONPATH:
            self.see("afterInputPath", self._input_path())
        return states.run_succeed(self.state, self.data, self.env, self.ql)

    def _choice(self) -> states.Outcome:
        if self.ql == states.JSONPATH:
            self.see("afterInputPath", self._input_path())
        return states.run_choice(self.state, self.data, self.env, self.ql)

    def _wait(self) -> states.Outcome:
        """The Wait's target is evaluated (and its errors raised) but not waited for."""
        if self.ql == states.JSONPATH:
            self.see("afterInputPath", self._input_path())
        states.wait_target(self.state, self.data, self.env, self.ql)
        return states.wait_outcome(self.state, self.data, self.env, self.ql)

    def _task(self) -> states.Outcome:
        if self.ql == states.JSONATA:
            parameters = self.see("afterArguments", states.task_parameters(self.state, self.data, self.env, self.ql))
        else:
            after_input = self.see("afterInputPath", self._input_path())
            parameters = self.see("afterParameters", self._parameters(after_input))
        states.task_timeouts(self.state, self.data, self.env, self.ql)
        result = self._service(parameters)
        return self._output(result)

    def _service(self, parameters: Any) -> Any:
        if self.mock is not None:
            if "errorOutput" in self.mock:
                raise errors.AslError(self.mock["errorOutput"]["error"], self.mock["errorOutput"]["cause"])
            return copy.deepcopy(self.mock["result"])
        if self.invoker is None:
            raise errors.AslError(errors.RUNTIME, f"State '{self.env.state_name}' calls "
                                  f"'{self.state['Resource']}': give a mock, or run it with AWS access")
        return self.invoker(self.state["Resource"], parameters, self.state, self.env)

    def _parallel(self) -> states.Outcome:
        if self.ql == states.JSONATA:
            if "Arguments" in self.state:
                self.see("afterArguments", states.parallel_branch_input(self.state, self.data, self.env, self.ql))
        else:  # evaluated for its errors; AWS's inspection shows no step before the result here
            self._parameters(self._input_path())
        result = self._service(None)
        return self._output(result, record_result=False)

    def _map(self) -> states.Outcome:
        state, env, ql = self.state, self.env, self.ql
        if "ItemReader" in state and "mapItemReaderData" in self.config:
            self.see("mapItemReaderData", self.config["mapItemReaderData"])
        elif "ItemReader" not in state:
            states.map_items(state, self.data, env, ql)  # its errors are the state's, as on AWS
        concurrency = states.map_max_concurrency(state, self.data, env, ql)
        self.see("maxConcurrency", concurrency)
        count, percentage = states.map_tolerance(state, self.data, env, ql)
        if count is not None:
            self.see("toleratedFailureCount", count)
        if percentage is not None:
            self.see("toleratedFailurePercentage", percentage)
        result = self._service(None)
        failed = int(self.config.get("mapIterationFailureCount", 0) or 0)
        if failed:
            total = len(result) if isinstance(result, list) else failed
            tolerance = (count, percentage)
            if states.tolerance_exceeded(tolerance, failed, total):
                raise errors.AslError(errors.EXCEED_TOLERATED_FAILURE_THRESHOLD,
                                      "The specified tolerated failure threshold was exceeded")
        if ql == states.JSONATA:
            output, variables = states.apply_result(state, self.data, result, env, ql)
            return states.Outcome(output, states.next_of(state), variables)
        return self._output(result, record_result=False)


__all__ = ["INSPECTION_LEVELS", "TestStateError", "test_state"]
