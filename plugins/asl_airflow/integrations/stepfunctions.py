"""Nested workflows: ``arn:aws:states:::states:startExecution`` (request-response, ``.sync``, ``.sync:2``).

- request-response: the StartExecution answer, ``ExecutionArn`` and ``StartDate`` (epoch
  milliseconds) with ``SdkHttpMetadata``/``SdkResponseMetadata``, read from the provider's
  ``StepFunctionHook`` client (the operator keeps only the ARN).
- ``.sync``/``.sync:2``: the provider's ``StepFunctionStartExecutionOperator`` starts the child
  and, deferrable, hands the wait to ``StepFunctionsExecutionCompleteTrigger``; the local engine
  waits with the provider's ``step_function_succeeded`` waiter. The result is the child's
  DescribeExecution in PascalCase; ``.sync`` keeps ``Input``/``Output`` as JSON text, ``.sync:2``
  parses them. A child that ends FAILED, TIMED_OUT or ABORTED fails the Task with
  ``States.TaskFailed`` and that description as the cause.

A missing ``Input`` is sent as ``{}`` and a JSON ``Input`` as JSON text, as Step Functions does.
Service errors are ``StepFunctions.<Code>Exception`` (``StepFunctions.StateMachineDoesNotExistException``).
StartExecution is idempotent by name (same name and input while the child runs), and a child's
ARN follows from its state machine and name. A ``.sync`` attempt names the child (the Parameters'
``Name``, or a UUID derived from the ASL attempt where Step Functions would draw a random one),
records the submission as pending before the call and the ARN after it; a re-run of the attempt
after a worker crash describes the child by that ARN and waits for it instead of starting another.
"""

from __future__ import annotations

import json
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations._optimized import (
    MAX_POLLS,
    POLL_SECONDS,
    epoch_ms,
    event_id,
    only,
    raise_v1,
    sdk_metadata,
)
from asl_airflow.integrations.base import (
    REQUEST_RESPONSE,
    SYNC,
    WAIT_FOR_TASK_TOKEN,
    Integration,
    ServiceCall,
    submit_once,
)

_START = frozenset({"Input", "Name", "StateMachineArn"})
_ENDED_BADLY = ("FAILED", "TIMED_OUT", "ABORTED")


def _hook(call: ServiceCall) -> Any:
    from airflow.providers.amazon.aws.hooks.step_function import StepFunctionHook

    return StepFunctionHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name)


def _request(call: ServiceCall) -> dict[str, Any]:
    params = only(call.parameters, _START, call.resource)
    if "StateMachineArn" not in params:
        raise AslError("States.Runtime", f"{call.resource} needs Parameters.StateMachineArn")
    payload = params.get("Input")
    if not isinstance(payload, str):
        payload = json.dumps({} if payload is None else payload, separators=(",", ":"))
    params["Input"] = payload
    return params


def _sync2(call: ServiceCall) -> bool:
    return call.resource.endswith(".sync:2")


def _pascal_keys(value: Any) -> Any:
    from asl_airflow.integrations.aws_sdk import java_pascal

    if isinstance(value, dict):
        return {java_pascal(key): _pascal_keys(item) for key, item in value.items()}
    return value


def describe(call: ServiceCall, execution_arn: str) -> dict[str, Any]:
    """The child's DescribeExecution as a ``.sync`` Task returns it."""
    raw = _hook(call).describe_execution(execution_arn)
    result = _pascal_keys(epoch_ms(raw))
    if _sync2(call):
        for key in ("Input", "Output"):
            if isinstance(result.get(key), str):
                result[key] = json.loads(result[key])
    return result


def _finish(call: ServiceCall, execution_arn: str) -> Any:
    result = describe(call, execution_arn)
    if result.get("Status") in _ENDED_BADLY:
        raise AslError("States.TaskFailed", json.dumps(result, separators=(",", ":")))
    return result


def _operator(call: ServiceCall, params: dict[str, Any]) -> Any:
    from airflow.providers.amazon.aws.operators.step_function import StepFunctionStartExecutionOperator

    return StepFunctionStartExecutionOperator(
        task_id=call.task_id, state_machine_arn=params["StateMachineArn"], name=params.get("Name"),
        state_machine_input=params["Input"], deferrable=call.deferrable, waiter_delay=POLL_SECONDS,
        waiter_max_attempts=MAX_POLLS, aws_conn_id=call.aws_conn_id, region_name=call.region_name,
        do_xcom_push=False,
    )


def start(call: ServiceCall, context: Any) -> Any:
    params = _request(call)
    if call.pattern != SYNC:
        request = {"stateMachineArn": params["StateMachineArn"], "input": params["Input"]}
        if params.get("Name") is not None:
            request["name"] = params["Name"]
        try:
            response = _hook(call).get_conn().start_execution(**request)
        except Exception as exc:
            raise_v1(exc, "StepFunctions", "AWSStepFunctions")
            raise
        return {"ExecutionArn": response["executionArn"], "StartDate": epoch_ms(response["startDate"]),
                **sdk_metadata(response)}
    if call.attempt_token and params.get("Name") is None:
        params["Name"] = call.attempt_token
    hook = _hook(call)
    try:
        execution_arn = submit_once(
            call,
            submit=lambda: hook.start_execution(params["StateMachineArn"], params.get("Name"), params["Input"]),
            find=lambda record: _existing(hook, params),
        )
    except Exception as exc:
        raise_v1(exc, "StepFunctions", "AWSStepFunctions")
        raise
    if call.deferrable:
        from airflow.providers.amazon.aws.triggers.step_function import StepFunctionsExecutionCompleteTrigger
        from airflow.sdk.exceptions import TaskDeferred

        raise TaskDeferred(
            trigger=StepFunctionsExecutionCompleteTrigger(
                execution_arn=execution_arn, waiter_delay=POLL_SECONDS, waiter_max_attempts=MAX_POLLS,
                aws_conn_id=call.aws_conn_id, region_name=call.region_name,
            ),
            method_name="execute_complete",
        )
    _wait(call, _operator(call, params), execution_arn)
    return _finish(call, execution_arn)


def _existing(hook: Any, params: dict[str, Any]) -> str | None:
    """The ARN of the child this attempt named, when Step Functions has it (None otherwise)."""
    from asl_airflow.integrations.errors import client_error_code

    machine, _, name = params["StateMachineArn"].partition(":stateMachine:")
    if not name or not params.get("Name"):
        return None
    execution_arn = f"{machine}:execution:{name.split(':')[0]}:{params['Name']}"
    try:
        hook.describe_execution(execution_arn)
    except Exception as exc:
        if client_error_code(exc) in ("ExecutionDoesNotExist", "ExecutionDoesNotExistException"):
            return None
        raise
    return execution_arn


def _wait(call: ServiceCall, operator: Any, execution_arn: str) -> None:
    """The local engine's wait: the provider's waiter; the end state is judged by ``_finish``."""
    from airflow.providers.amazon.aws.utils.waiter_with_logging import wait
    from airflow.providers.common.compat.sdk import AirflowException

    try:
        wait(
            waiter=operator.hook.get_waiter("step_function_succeeded"), waiter_delay=POLL_SECONDS,
            waiter_max_attempts=MAX_POLLS, args={"executionArn": execution_arn},
            failure_message="Step function failed", status_message="Status of step function execution is",
            status_args=["status"],
        )
    except AirflowException:
        pass


def resume(call: ServiceCall, context: Any, method_name: str, event: Any) -> Any:
    execution_arn = event_id(event, "execution_arn")
    if not execution_arn:
        raise AslError("States.TaskFailed", f"the Step Functions trigger reported no execution: {event!r}")
    operator = _operator(call, _request(call))
    try:
        getattr(operator, method_name)(context, event=event)
    except Exception:  # the trigger saw a failure: the description says which, and is the cause
        pass
    return _finish(call, execution_arn)


def error_name(exc: BaseException, call: ServiceCall) -> str | None:
    from asl_airflow.integrations._optimized import v1_error

    error = v1_error(exc, "StepFunctions", "AWSStepFunctions")
    return error.error if error else None


START_EXECUTION = Integration(
    "states", "startExecution", frozenset({REQUEST_RESPONSE, SYNC, WAIT_FOR_TASK_TOKEN}), "StepFunctions",
    start, resume, error_name,
)

ENTRIES = (START_EXECUTION,)
