"""What each state does to its input: the semantics shared by every engine.

The local interpreter calls these functions in a loop; the Airflow operators call the same
functions inside one task per state. A Task's service call is *not* made here: callers split a
Task into :func:`task_parameters` (before the call) and :func:`task_output` (after), so that the
call itself can be an Airflow operator that defers. Parallel and Map are split the same way:
``parallel_branch_input`` / ``parallel_output`` and ``map_items`` / ``map_item_input`` /
``map_output`` surround the branch runs, which the engine schedules as it likes.

Evaluation order follows AWS: a state's ``Output`` (JSONata) is computed with the variables as
they were *before* the state's ``Assign``; ``Assign`` never sees its own assignments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asl_airflow.asl import choice, clock, errors, jsonata_eval, paths, payload, strictjson
from asl_airflow.asl.context import ExecutionInfo, iso_now

JSONPATH = "JSONPath"
JSONATA = "JSONata"

#: the longest Wait AWS accepts (its delay is a signed 32-bit number of seconds)
MAX_WAIT_SECONDS = 2**31 - 1


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
    state_type: str | None = None
    timeout_seconds: float | None = None  # a Task's TimeoutSeconds(Path), for the invoker to enforce
    heartbeat_seconds: float | None = None  # a Task's HeartbeatSeconds(Path)
    #: set by the invoker once a ``.sync`` job or a ``.waitForTaskToken`` call was submitted (the
    #: submit call's response, or ``{}`` for a mock): the history gets AWS's ``TaskSubmitted``
    submitted: Any = None

    def context(self) -> dict[str, Any]:
        ctx = self.execution.context_object(
            self.state_name, self.entered_time, self.retry_count, self.task_token, self.map_item
        )
        if self.state_type is not None and self.state_type != "Task":
            ctx["State"].pop("RetryCount", None)  # AWS shows RetryCount only to Task states
        return ctx


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
    if path.startswith("$") and not path.startswith(("$.", "$[", "$$")):
        return payload.resolve_variable(path, env.variables)
    try:
        return paths.get(data, path, env.context())
    except paths.PathNotFound as exc:
        raise errors.AslError(
            errors.RUNTIME,
            f"Invalid path '{path}' : No results for path: {paths.normalized(path)}",
        ) from exc


def _states_binding(raw_input: Any, env: StateEnv, **extra: Any) -> dict[str, Any]:
    binding = {"input": raw_input, "context": env.context()}
    binding.update(extra)
    return binding


def effective_input(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> Any:
    """InputPath then Parameters (JSONPath), or Arguments (JSONata): what the state works on."""
    if ql == JSONATA:
        if "Arguments" in state:
            return jsonata_eval.render(state["Arguments"], _states_binding(raw_input, env), env.variables,
                                       "Arguments")
        return raw_input
    data = _select(raw_input, state.get("InputPath", "$"), env, "InputPath")
    template = state.get("Parameters")
    if template is None:
        return data
    return payload.render(template, data, env.context(), env.variables)


def apply_result(
    state: dict[str, Any], raw_input: Any, result: Any, env: StateEnv, ql: str,
    assign_input: Any = paths.MISSING,
) -> tuple[Any, dict[str, Any]]:
    """ResultSelector, ResultPath, OutputPath (JSONPath) or Output (JSONata), plus Assign.

    Returns the state output and the variables as they are after the state's Assign. As on AWS,
    Output is evaluated with the variables from *before* this state's Assign.
    """
    if ql == JSONATA:
        states = _states_binding(raw_input, env, result=result)
        output = jsonata_eval.render(state["Output"], states, env.variables, "Output") if "Output" in state \
            else result
        variables = assign(state.get("Assign"), states, env, ql)
        return output, variables
    if "ResultSelector" in state:
        result = payload.render(state["ResultSelector"], result, env.context(), env.variables)
    variables = assign(state.get("Assign"), result if assign_input is paths.MISSING else assign_input, env, ql)
    combined = apply_result_path(state.get("ResultPath", "$"), raw_input, result, "ResultPath" in state)
    return _select(combined, state.get("OutputPath", "$"), env, "OutputPath"), variables


def apply_result_path(path: Any, raw_input: Any, result: Any, present: bool = True) -> Any:
    """ResultPath: ``null`` keeps the input, ``$`` replaces it, a reference path places the result."""
    if present and path is None:
        return raw_input
    return paths.set_at(raw_input, path or "$", result)


def assign(spec: Any, data: Any, env: StateEnv, ql: str) -> dict[str, Any]:
    """The variables after an ``Assign`` block; ``data`` is ``$states`` (JSONata) or ``$`` (JSONPath).

    Every right-hand side is evaluated with the variables from before the block, then all are set.
    """
    if not spec:
        return env.variables
    if ql == JSONATA:
        values = jsonata_eval.render(spec, data, env.variables, "Assign")
    else:
        values = payload.render(spec, data, env.context(), env.variables)
    variables = dict(env.variables)
    variables.update(values)
    return variables


def task_parameters(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> Any:
    """The payload a Task sends to its Resource."""
    return effective_input(state, raw_input, env, ql)


def task_timeouts(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> tuple[float | None, float | None]:
    """A Task's ``(TimeoutSeconds, HeartbeatSeconds)`` after resolving their Path/JSONata forms."""
    out: list[float | None] = []
    for name in ("TimeoutSeconds", "HeartbeatSeconds"):
        if name in state:
            value = _number_field(state[name], name, raw_input, env, ql)
        elif f"{name}Path" in state:
            value = _path_number(state[f"{name}Path"], f"{name}Path", raw_input, env, integer=True)
        else:
            out.append(None)
            continue
        if value <= 0:
            raise errors.AslError(errors.RUNTIME, f"The {name} value must be a positive integer, got {value}")
        out.append(float(value))
    return out[0], out[1]


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
            jsonata_eval.render(catcher["Output"], states, env.variables, "Output") if "Output" in catcher
            else error_output
        )
        return Outcome(output, catcher["Next"], assign(catcher.get("Assign"), states, env, ql))
    variables = assign(catcher.get("Assign"), error_output, env, ql)
    output = apply_result_path(catcher.get("ResultPath", "$"), raw_input, error_output, "ResultPath" in catcher)
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
        output = jsonata_eval.render(state["Output"], states, env.variables, "Output") if "Output" in state \
            else raw_input
        return Outcome(output, None, env.variables)
    data = _select(raw_input, state.get("InputPath", "$"), env, "InputPath")
    return Outcome(_select(data, state.get("OutputPath", "$"), env, "OutputPath"), None, env.variables)


def fail_error(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> errors.ExecutionFailed:
    """The error a Fail state ends the execution with (Error/Cause or ErrorPath/CausePath)."""
    error, cause = state.get("Error"), state.get("Cause")
    if ql == JSONATA:
        states = _states_binding(raw_input, env)
        error = jsonata_eval.render(error, states, env.variables, "Error")
        cause = jsonata_eval.render(cause, states, env.variables, "Cause")
        for name, value in (("Error", error), ("Cause", cause)):
            if value is not None and not isinstance(value, str):
                raise errors.AslError(
                    errors.QUERY_EVALUATION_ERROR,
                    f"The {name} field must evaluate to a string, but was "
                    f"'{jsonata_eval.type_name(value)}': {jsonata_eval.dumps(value)}",
                )
    else:
        if "ErrorPath" in state:
            error = _fail_field(state["ErrorPath"], raw_input, env, "ErrorPath")
        if "CausePath" in state:
            cause = _fail_field(state["CausePath"], raw_input, env, "CausePath")
    return errors.ExecutionFailed(error, cause)


def _fail_field(expr: Any, raw_input: Any, env: StateEnv, name: str) -> Any:
    value = payload.resolve_expression(expr, raw_input, env.context(), env.variables, name)
    if not isinstance(value, str):
        raise errors.AslError(
            errors.RUNTIME,
            f"The {name} '{expr}' must reference a string, but was '{jsonata_eval.type_name(value)}'",
        )
    return value


# --- Choice ---------------------------------------------------------------------------------------


def run_choice(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> Outcome:
    """The Choice state's outcome: ``next`` is the first matching rule's Next (or Default).

    Raises States.NoChoiceMatched when nothing matches and there is no Default.
    """
    if ql == JSONATA:
        states = _states_binding(raw_input, env)
        chosen: dict[str, Any] = state
        target = state.get("Default")
        for rule in state.get("Choices", []):
            if choice.evaluate_condition(rule.get("Condition"), states, env.variables):
                chosen, target = rule, rule["Next"]
                break
        else:
            if target is None:
                raise _no_choice(state)
        output = jsonata_eval.render(chosen["Output"], states, env.variables, "Output") if "Output" in chosen \
            else raw_input
        return Outcome(output, target, assign(chosen.get("Assign"), states, env, ql))
    data = _select(raw_input, state.get("InputPath", "$"), env, "InputPath")
    context = env.context()
    chosen = state
    target = state.get("Default")
    for rule in state.get("Choices", []):
        if choice.evaluate_rule(rule, data, context, env.variables):
            chosen, target = rule, rule["Next"]
            break
    else:
        if target is None:
            raise _no_choice(state)
    variables = assign(chosen.get("Assign"), data, env, ql)
    return Outcome(_select(data, state.get("OutputPath", "$"), env, "OutputPath"), target, variables)


def _no_choice(state: dict[str, Any]) -> errors.AslError:
    return errors.AslError(errors.NO_CHOICE_MATCHED, "No Matches!")


# --- Wait -----------------------------------------------------------------------------------------


def wait_target(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> tuple[str, Any]:
    """How long a Wait waits: ``("seconds", float)`` or ``("timestamp", aware datetime)``."""
    if ql == JSONATA:
        states = _states_binding(raw_input, env)
        if "Seconds" in state:
            seconds = jsonata_eval.render(state["Seconds"], states, env.variables, "Seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds != int(seconds) \
                    or seconds < 0:
                raise errors.AslError(
                    errors.QUERY_EVALUATION_ERROR,
                    f"The Seconds field must evaluate to a non-negative integer, but was "
                    f"{jsonata_eval.dumps(seconds)}",
                )
            return "seconds", _checked_seconds(float(seconds))
        stamp = jsonata_eval.render(state.get("Timestamp"), states, env.variables, "Timestamp")
        moment = choice.parse_timestamp(stamp)
        if moment is None:
            raise errors.AslError(
                errors.QUERY_EVALUATION_ERROR,
                "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format "
                f"string: {stamp if isinstance(stamp, str) else jsonata_eval.dumps(stamp)}",
            )
        return "timestamp", _checked_moment(moment)
    if "Seconds" in state:
        return "seconds", _checked_seconds(float(state["Seconds"]))
    if "Timestamp" in state:
        moment = choice.parse_timestamp(state["Timestamp"])
        if moment is None:
            raise errors.AslError(errors.RUNTIME, f"The Timestamp {state['Timestamp']!r} is not a valid timestamp")
        return "timestamp", _checked_moment(moment)
    data = _select(raw_input, state.get("InputPath", "$"), env, "InputPath")
    if "SecondsPath" in state:
        path = state["SecondsPath"]
        value = payload.resolve_expression(path, data, env.context(), env.variables, "SecondsPath")
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) \
                or (isinstance(value, float) and not value.is_integer()):
            raise errors.AslError(
                errors.RUNTIME,
                f"The SecondsPath parameter cannot be parsed as a long value: {path} == {_plain_text(value)}",
            )
        if value < 0:
            raise errors.AslError(
                errors.RUNTIME,
                f"The SecondsPath parameter references a negative value: {path} == {_plain_text(value)}",
            )
        return "seconds", _checked_seconds(float(value))
    path = state.get("TimestampPath", "$")
    value = payload.resolve_expression(path, data, env.context(), env.variables, "TimestampPath")
    moment = choice.parse_timestamp(value)
    if moment is None:
        raise errors.AslError(
            errors.RUNTIME,
            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time "
            f"format string: {path} == {_plain_text(value)}",
        )
    return "timestamp", _checked_moment(moment)


def _plain_text(value: Any) -> str:
    return value if isinstance(value, str) else jsonata_eval.dumps(value)


def _checked_seconds(seconds: float) -> float:
    if seconds > MAX_WAIT_SECONDS:
        raise errors.AslError(errors.RUNTIME, "Wait state delay is too long.")
    return seconds


def _checked_moment(moment: datetime) -> datetime:
    if (moment - clock.utcnow()).total_seconds() > MAX_WAIT_SECONDS:
        raise errors.AslError(errors.RUNTIME, "Wait state delay is too long.")
    return moment


def wait_seconds(target: tuple[str, Any], now: datetime | None = None) -> float:
    """Seconds left to wait for a :func:`wait_target` result (0 for a timestamp in the past)."""
    kind, value = target
    if kind == "seconds":
        return float(value)
    return max(0.0, (value - (now or clock.utcnow())).total_seconds())


def wait_outcome(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> Outcome:
    """A Wait's output and variables once the wait is over (it passes its input through)."""
    if ql == JSONATA:
        states = _states_binding(raw_input, env)
        output = jsonata_eval.render(state["Output"], states, env.variables, "Output") if "Output" in state \
            else raw_input
        return Outcome(output, next_of(state), assign(state.get("Assign"), states, env, ql))
    data = _select(raw_input, state.get("InputPath", "$"), env, "InputPath")
    variables = assign(state.get("Assign"), data, env, ql)
    return Outcome(_select(data, state.get("OutputPath", "$"), env, "OutputPath"), next_of(state), variables)


# --- Parallel -------------------------------------------------------------------------------------


def parallel_branch_input(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> Any:
    """The input every branch of a Parallel state starts with."""
    return effective_input(state, raw_input, env, ql)


def parallel_output(
    state: dict[str, Any], raw_input: Any, branch_outputs: list[Any], env: StateEnv, ql: str
) -> Outcome:
    """The Parallel state's outcome from its branches' outputs (in branch order)."""
    output, variables = apply_result(state, raw_input, list(branch_outputs), env, ql)
    return Outcome(output, next_of(state), variables)


# --- Map ------------------------------------------------------------------------------------------


def processor(state: dict[str, Any]) -> dict[str, Any]:
    """The machine a Map runs per item (``ItemProcessor``, or the legacy ``Iterator``)."""
    return state.get("ItemProcessor") or state.get("Iterator") or {}


def task_states(machine: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every Task state of a (validated) machine, nested ones included (Parallel branches, Map
    items), with its JSON pointer parts."""
    out = []
    for name, state in machine["States"].items():
        here = (*path, "States", name)
        if state["Type"] == "Task":
            out.append((here, state))
        for index, branch in enumerate(state.get("Branches", [])):
            out.extend(task_states(branch, (*here, "Branches", str(index))))
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                out.extend(task_states(state[key], (*here, key)))
    return out


def is_distributed(state: dict[str, Any]) -> bool:
    config = processor(state).get("ProcessorConfig") or {}
    return config.get("Mode") == "DISTRIBUTED"


def map_items(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> list[Any]:
    """The items a Map iterates over (after InputPath/ItemsPath, or JSONata ``Items``).

    Items read by an ``ItemReader`` come from the service call instead (the engine makes it).
    """
    if ql == JSONATA:
        if "Items" in state:
            spec = state["Items"]
            items = jsonata_eval.render(spec, _states_binding(raw_input, env), env.variables, "Items")
            if not isinstance(items, list):
                source = spec[2:-2].strip() if jsonata_eval.is_expression(spec) else jsonata_eval.dumps(spec)
                raise errors.AslError(
                    errors.QUERY_EVALUATION_ERROR,
                    f"The JSONata expression '{source}' specified for the field 'Items' returned an unexpected "
                    f"result type. Expected 'array', but was '{jsonata_eval.type_name(items)}' for value: "
                    f"{jsonata_eval.dumps(items)}",
                )
            return items
        if not isinstance(raw_input, list):
            raise errors.AslError(
                errors.QUERY_EVALUATION_ERROR,
                f"Map state input must be an array but was: {jsonata_eval.dumps(raw_input)}",
            )
        return raw_input
    data = _select(raw_input, state.get("InputPath", "$"), env, "InputPath")
    path = state.get("ItemsPath", "$")
    items = payload.resolve_expression(path, data, env.context(), env.variables, "ItemsPath") if path != "$" \
        else data
    if not isinstance(items, list):
        raise errors.AslError(
            errors.RUNTIME,
            f"Map state input must be an array but was: {jsonata_eval.dumps(items)}"
            if path == "$" else
            f"Invalid path '{path}': the value at ItemsPath must be an array but was: {jsonata_eval.dumps(items)}",
        )
    return items


def item_reader_request(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> tuple[str, Any]:
    """The ``(resource, parameters)`` of a Map's ItemReader call (the engine makes the call); its
    JSONPath Parameters see the state's input after InputPath."""
    return _service_request(state, "ItemReader", raw_input, env, ql, apply_input_path=True)


def _service_request(state: dict[str, Any], field: str, raw_input: Any, env: StateEnv, ql: str,
                     apply_input_path: bool) -> tuple[str, Any]:
    """``(Resource, rendered Arguments or Parameters)`` of a Map's ItemReader or ResultWriter."""
    spec = state[field]
    if ql == JSONATA:
        params = jsonata_eval.render(spec.get("Arguments", {}), _states_binding(raw_input, env), env.variables,
                                     f"{field}/Arguments")
    else:
        data = _select(raw_input, state.get("InputPath", "$"), env, "InputPath") if apply_input_path else raw_input
        params = payload.render(spec.get("Parameters", {}), data, env.context(), env.variables)
    return spec.get("Resource", ""), params


def reader_max_items(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> int | None:
    """``ItemReader.ReaderConfig.MaxItems(Path)``: how many read items to process at most."""
    config = (state.get("ItemReader") or {}).get("ReaderConfig") or {}
    if "MaxItems" in config:
        value = _number_field(config["MaxItems"], "MaxItems", raw_input, env, ql)
    elif "MaxItemsPath" in config:
        value = _path_number(config["MaxItemsPath"], "MaxItemsPath", raw_input, env, integer=True)
    else:
        return None
    return int(value) if value else None


def map_item_env(env: StateEnv, item: Any, index: int) -> StateEnv:
    """The environment ItemSelector sees: ``$$.Map.Item.Index`` / ``.Value`` set."""
    return StateEnv(env.execution, env.state_name, env.variables, env.entered_time, env.retry_count,
                    env.task_token, {"Index": index, "Value": item}, env.state_type)


def map_item_input(
    state: dict[str, Any], raw_input: Any, item: Any, index: int, env: StateEnv, ql: str,
    memo: dict[str, Any] | None = None,
) -> Any:
    """The input of one iteration: the item, or ItemSelector (legacy: Parameters) rendered for it
    (``memo``: one dict shared by the items of one Map, see :func:`payload.render`)."""
    item_env = map_item_env(env, item, index)
    if ql == JSONATA:
        if "ItemSelector" not in state:
            return item
        return jsonata_eval.render(state["ItemSelector"], _states_binding(raw_input, item_env), env.variables,
                                   "ItemSelector")
    template = state.get("ItemSelector", state.get("Parameters"))
    if template is None:
        return item
    data = _select(raw_input, state.get("InputPath", "$"), env, "InputPath")
    return payload.render(template, data, item_env.context(), env.variables, memo)


def map_batches(state: dict[str, Any], raw_input: Any, inputs: list[Any], env: StateEnv, ql: str) -> list[Any]:
    """ItemBatcher: group iteration inputs into ``{"Items": [...], "BatchInput": ...}`` objects."""
    batcher = state.get("ItemBatcher")
    if not batcher:
        return inputs
    max_items = None
    if "MaxItemsPerBatch" in batcher:
        max_items = int(_number_field(batcher["MaxItemsPerBatch"], "MaxItemsPerBatch", raw_input, env, ql))
    elif "MaxItemsPerBatchPath" in batcher:
        max_items = int(_path_number(batcher["MaxItemsPerBatchPath"], "MaxItemsPerBatchPath", raw_input, env,
                                     integer=True))
    max_bytes = None
    if "MaxInputBytesPerBatch" in batcher:
        max_bytes = int(_number_field(batcher["MaxInputBytesPerBatch"], "MaxInputBytesPerBatch", raw_input, env,
                                      ql))
    elif "MaxInputBytesPerBatchPath" in batcher:
        max_bytes = int(_path_number(batcher["MaxInputBytesPerBatchPath"], "MaxInputBytesPerBatchPath",
                                     raw_input, env, integer=True))
    batch_input = None
    if "BatchInput" in batcher:
        if ql == JSONATA:
            batch_input = jsonata_eval.render(batcher["BatchInput"], _states_binding(raw_input, env),
                                              env.variables, "ItemBatcher/BatchInput")
        else:
            data = _select(raw_input, state.get("InputPath", "$"), env, "InputPath")
            batch_input = payload.render(batcher["BatchInput"], data, env.context(), env.variables)
    batches: list[list[Any]] = []
    size = 0
    for value in inputs:
        value_size = len(jsonata_eval.dumps(value).encode("utf-8"))
        if batches and (max_items is None or len(batches[-1]) < max_items) and \
                (max_bytes is None or size + value_size <= max_bytes):
            batches[-1].append(value)
            size += value_size
        else:
            batches.append([value])
            size = value_size
    out = []
    for batch in batches:
        entry: dict[str, Any] = {"Items": batch}
        if batch_input is not None:
            entry["BatchInput"] = batch_input
        out.append(entry)
    return out


def map_output(state: dict[str, Any], raw_input: Any, results: list[Any], env: StateEnv, ql: str) -> Outcome:
    """The Map state's outcome from its iterations' outputs (in item order), or from what a
    ResultWriter returned in their place (``{"MapRunArn", "ResultWriterDetails"}``)."""
    output, variables = apply_result(state, raw_input, list(results) if isinstance(results, list | tuple) else results,
                                     env, ql)
    return Outcome(output, next_of(state), variables)


def map_max_concurrency(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> int:
    """MaxConcurrency(Path): 0 means no limit."""
    if "MaxConcurrency" in state:
        value = _number_field(state["MaxConcurrency"], "MaxConcurrency", raw_input, env, ql)
    elif "MaxConcurrencyPath" in state:
        value = _path_number(state["MaxConcurrencyPath"], "MaxConcurrencyPath", raw_input, env, integer=True)
    else:
        return 0
    if value < 0:
        raise errors.AslError(errors.RUNTIME, "MaxConcurrency cannot be negative.")
    return int(value)


def map_tolerance(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> tuple[int | None, float | None]:
    """``(ToleratedFailureCount, ToleratedFailurePercentage)``; None where not set."""
    count: int | None = None
    percentage: float | None = None
    if "ToleratedFailureCount" in state:
        count = int(_number_field(state["ToleratedFailureCount"], "ToleratedFailureCount", raw_input, env, ql))
    elif "ToleratedFailureCountPath" in state:
        count = int(_path_number(state["ToleratedFailureCountPath"], "ToleratedFailureCountPath", raw_input, env,
                                 integer=True))
    if count is not None and count < 0:
        raise errors.AslError(errors.RUNTIME, "ToleratedFailureCount cannot be negative.")
    if "ToleratedFailurePercentage" in state:
        percentage = float(_number_field(state["ToleratedFailurePercentage"], "ToleratedFailurePercentage",
                                         raw_input, env, ql))
    elif "ToleratedFailurePercentagePath" in state:
        percentage = float(_path_number(state["ToleratedFailurePercentagePath"], "ToleratedFailurePercentagePath",
                                        raw_input, env, integer=False))
    if percentage is not None and not 0 <= percentage <= 100:
        raise errors.AslError(errors.RUNTIME, "ToleratedFailurePercentage must be between 0 and 100.")
    return count, percentage


def tolerance_exceeded(tolerance: tuple[int | None, float | None], failed: int, total: int) -> bool:
    """Whether ``failed`` of ``total`` iterations is more than a Map tolerates."""
    if failed == 0:
        return False
    count, percentage = tolerance
    if count is None and percentage is None:
        return True
    if count is not None and failed <= count:
        return False
    if percentage is not None and total and failed * 100.0 / total <= percentage:
        return False
    return True


def _number_field(value: Any, name: str, raw_input: Any, env: StateEnv, ql: str) -> float:
    if jsonata_eval.is_expression(value):
        value = jsonata_eval.render(value, _states_binding(raw_input, env), env.variables, name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise errors.AslError(
            errors.QUERY_EVALUATION_ERROR if ql == JSONATA else errors.RUNTIME,
            f"The {name} field must be a number, but was {jsonata_eval.dumps(value)}",
        )
    return value


def _path_number(path: str, name: str, raw_input: Any, env: StateEnv, integer: bool) -> float:
    value = payload.resolve_expression(path, raw_input, env.context(), env.variables, name)
    if isinstance(value, str):  # AWS reads numbers given as text ("1") too
        try:
            value = int(value) if integer else float(value)
        except ValueError:
            pass
    ok = not isinstance(value, bool) and isinstance(value, int | float)
    if ok and integer and isinstance(value, float) and not value.is_integer():
        ok = False
    if not ok:
        kind = "integer" if integer else "float"
        raise errors.AslError(
            errors.RUNTIME,
            f"The {name} field refers to value \"{_plain_text(value)}\" which is not a valid {kind}: {path}",
        )
    return value


def result_writer_request(state: dict[str, Any], raw_input: Any, env: StateEnv, ql: str) -> tuple[str, Any]:
    """The ``(resource, parameters)`` of a Map's ResultWriter call (the engine makes the call); its
    JSONPath Parameters see the state's raw input."""
    return _service_request(state, "ResultWriter", raw_input, env, ql, apply_input_path=False)


# --- sizes ----------------------------------------------------------------------------------------


def check_size(value: Any, what: str) -> None:
    """States.DataLimitExceeded when ``value`` serialises to more than 256 KiB (a value far over the
    limit is refused without building its text)."""
    too_large = strictjson.size_exceeds(value, errors.PAYLOAD_LIMIT_BYTES)
    if not too_large:
        text = strictjson.dumps(value)
        too_large = len(text) > errors.PAYLOAD_LIMIT_BYTES // 4 and \
            len(text.encode("utf-8")) > errors.PAYLOAD_LIMIT_BYTES
    if too_large:
        raise errors.AslError(
            errors.DATA_LIMIT_EXCEEDED,
            f"The state/task '{what}' returned a result with a size exceeding the maximum number of bytes "
            "service limit.",
        )
