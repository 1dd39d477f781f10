"""What each state does to its input: the semantics shared by every engine.

The local interpreter calls these functions in a loop; the Airflow operators call the same
functions inside one task per state. A Task's service call is *not* made here: callers split a
Task into :func:`task_parameters` (before the call) and :func:`task_output` (after), so that the
call itself can be an Airflow operator that defers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asl_airflow.asl import errors, jsonata_eval, paths, payload
from asl_airflow.asl.context import ExecutionInfo, iso_now

JSONPATH = "JSONPath"
JSONATA = "JSONata"


@dataclass
class StateEnv:
    """Everything a state sees besides its input: execution, variables, retry count, Map item."""

    execution: ExecutionInfo
    state_name: str
    variables: dict[str, Any] = field(default_factory=dict)
    entered_time: str = field(default_factory=iso_now)
    retry_count: int = 0
    task_token: str | None = None
    map_item: dict[str, Any] | None = None

    def context(self) -> dict[str, Any]:
        return self.execution.context_object(
            self.state_name, self.entered_time, self.retry_count, self.task_token, self.map_item
        )


@dataclass
class Outcome:
    """A state's result: its output, the next state (None at an end) and the variables after Assign."""

    output: Any
    next: str | None
    variables: dict[str, Any]


def query_language(state: dict[str, Any], machine_language: str = JSONPATH) -> str:
    return state.get("QueryLanguage", machine_language)


def next_of(state: dict[str, Any]) -> str | None:
    return None if state.get("End") else state.get("Next")


# --- JSONPath input/output processing -------------------------------------------------------------


def _select(data: Any, path: str | None, env: StateEnv, field_name: str) -> Any:
    """InputPath / OutputPath: ``null`` gives ``{}``; a path that selects nothing is States.Runtime."""
    if path is None:
        return {}
    if path == "$":
        return data
    try:
        return paths.get(data, path, env.context())
    except paths.PathNotFound as exc:
        raise errors.AslError(
            errors.RUNTIME,
            f"Invalid path '{path}' : No results for path: {field_name}. The {field_name} "
            f"'{path}' could not be found in the input '{paths._short(data)}'",
        ) from exc


def effective_input(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> Any:
    """InputPath then Parameters (JSONPath), or Arguments (JSONata): what the state works on."""
    if ql == JSONATA:
        if "Arguments" in state:
            return jsonata_eval.render(state["Arguments"], _states_binding(raw_input, env), env.variables)
        return raw_input
    data = _select(raw_input, state.get("InputPath", "$"), env, "InputPath")
    template = state.get("Parameters")
    if template is None:
        return data
    return payload.render(template, data, env.context(), env.variables)


def _states_binding(raw_input: Any, env: StateEnv, **extra: Any) -> dict[str, Any]:
    binding = {"input": raw_input, "context": env.context()}
    binding.update(extra)
    return binding


def apply_result(
    state: dict[str, Any], raw_input: Any, result: Any, env: StateEnv, ql: str
) -> tuple[Any, dict[str, Any]]:
    """ResultSelector, ResultPath, OutputPath (JSONPath) or Output (JSONata), plus Assign.

    Returns the state output and the variables as they are after the state's Assign. As on AWS,
    Output is evaluated with the variables from *before* this state's Assign.
    """
    if ql == JSONATA:
        states = _states_binding(raw_input, env, result=result)
        output = (
            jsonata_eval.render(state["Output"], states, env.variables) if "Output" in state else result
        )
        variables = _assign(state.get("Assign"), states, env, ql, raw_input, result)
        return output, variables
    if "ResultSelector" in state:
        result = payload.render(state["ResultSelector"], result, env.context(), env.variables)
    variables = _assign(state.get("Assign"), None, env, ql, raw_input, result)
    if "ResultPath" in state and state["ResultPath"] is None:
        combined = raw_input
    else:
        combined = paths.set_at(raw_input, state.get("ResultPath", "$"), result)
    return _select(combined, state.get("OutputPath", "$"), env, "OutputPath"), variables


def _assign(
    assign: Any, states: dict[str, Any] | None, env: StateEnv, ql: str, raw_input: Any, result: Any
) -> dict[str, Any]:
    if not assign:
        return env.variables
    if ql == JSONATA:
        values = jsonata_eval.render(assign, states or _states_binding(raw_input, env, result=result), env.variables)
    else:
        # JSONPath Assign reads the state's result ($) and the context object ($$)
        values = payload.render(assign, result, env.context(), env.variables)
    variables = dict(env.variables)
    variables.update(values)
    return variables


def task_parameters(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> Any:
    """The payload a Task sends to its Resource."""
    return effective_input(state, raw_input, env, ql)


def task_output(
    state: dict[str, Any], raw_input: Any, result: Any, env: StateEnv, ql: str
) -> Outcome:
    """A Task's outcome once its Resource returned ``result``."""
    output, variables = apply_result(state, raw_input, result, env, ql)
    return Outcome(output, next_of(state), variables)


def catch_outcome(
    catcher: dict[str, Any], raw_input: Any, error: errors.AslError, env: StateEnv, ql: str
) -> Outcome:
    """Where a Catch sends the execution, with the error output at the catcher's ResultPath."""
    error_output = error.to_output()
    if ql == JSONATA:
        states = _states_binding(raw_input, env, errorOutput=error_output)
        output = (
            jsonata_eval.render(catcher["Output"], states, env.variables) if "Output" in catcher else error_output
        )
        variables = env.variables
        if catcher.get("Assign"):
            variables = dict(env.variables)
            variables.update(jsonata_eval.render(catcher["Assign"], states, env.variables))
        return Outcome(output, catcher["Next"], variables)
    variables = _assign(catcher.get("Assign"), None, env, ql, raw_input, error_output)
    if "ResultPath" in catcher and catcher["ResultPath"] is None:
        output = raw_input
    else:
        output = paths.set_at(raw_input, catcher.get("ResultPath", "$"), error_output)
    return Outcome(output, catcher["Next"], variables)


# --- the states that need no service --------------------------------------------------------------


def run_pass(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> Outcome:
    if ql == JSONATA:
        output, variables = apply_result(state, raw_input, raw_input, env, ql)
        return Outcome(output, next_of(state), variables)
    data = effective_input(state, raw_input, env, ql)
    result = state["Result"] if "Result" in state else data
    output, variables = apply_result(state, raw_input, result, env, ql)
    return Outcome(output, next_of(state), variables)


def run_succeed(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> Outcome:
    if ql == JSONATA:
        states = _states_binding(raw_input, env)
        output = jsonata_eval.render(state["Output"], states, env.variables) if "Output" in state else raw_input
        return Outcome(output, None, env.variables)
    data = _select(raw_input, state.get("InputPath", "$"), env, "InputPath")
    return Outcome(_select(data, state.get("OutputPath", "$"), env, "OutputPath"), None, env.variables)


def fail_error(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> errors.ExecutionFailed:
    """The error a Fail state ends the execution with (Error/Cause or ErrorPath/CausePath)."""
    error, cause = state.get("Error"), state.get("Cause")
    if ql == JSONATA:
        states = _states_binding(raw_input, env)
        error = jsonata_eval.render(error, states, env.variables)
        cause = jsonata_eval.render(cause, states, env.variables)
    else:
        if "ErrorPath" in state:
            error = payload.resolve_expression(state["ErrorPath"], raw_input, env.context(), env.variables)
        if "CausePath" in state:
            cause = payload.resolve_expression(state["CausePath"], raw_input, env.context(), env.variables)
    return errors.ExecutionFailed(error, cause)
