"""Amazon ECS / Fargate: ``arn:aws:states:::ecs:runTask`` (request-response, ``.sync`` and
``.waitForTaskToken``, the latter through the generic wrapper in ``callbacks.py``).

RunTask goes through the provider's ``EcsHook`` client with the whole request, Parameters in Step
Functions' PascalCase renamed by botocore's model (``Overrides.ContainerOverrides[].Environment``
-> ``overrides.containerOverrides[].environment``); ``EcsRunTaskOperator`` would wait its own way,
register task definitions and keep only the ARN. As Step Functions documents:

- request-response answers the RunTask response (``{Tasks, Failures}`` in PascalCase, times in
  epoch milliseconds, with ``SdkHttpMetadata``); a non-empty ``Failures`` does not fail the Task;
- ``.sync`` and ``.waitForTaskToken`` fail with ``AmazonECS.Unknown`` (Cause = the response) when
  RunTask answers with a non-empty ``Failures``;
- ``.sync`` starts the task with ``StartedBy`` "AWS Step Functions" and waits until it is STOPPED:
  deferred on the provider's ``TaskDoneTrigger`` (the local engine: botocore's ``tasks_stopped``
  waiter through the hook). The result is the task's DescribeTasks entry in PascalCase; a task whose
  container exited non-zero or never ran to an exit (a task that failed to start, one stopped by
  StopTask) is ``States.TaskFailed`` with that description as the Cause. With ``Count`` above 1 it
  waits for every task and answers the list of descriptions (AWS documents the single task only).
- ``.waitForTaskToken`` passes ``$$.Task.Token`` wherever the Parameters put it (typically a
  container's ``Environment`` in ``Overrides``); the container reports back with SendTaskSuccess.

RunTask is idempotent by ``clientToken``: a ``.sync`` attempt sends the Parameters' own, else one
derived from the ASL attempt, so a re-run after a worker crash that only left the pending mark gets
the same task back instead of starting another.

Service errors are the AWS SDK for Java v1 classes: a declared error keeps its name
(``ECS.ClusterNotFoundException``, ``ECS.InvalidParameterException``, ``ECS.ClientException``,
``ECS.AccessDeniedException``), anything else is ``ECS.AmazonECSException`` (throttling, capacity).
"""

from __future__ import annotations

import json
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import _shapes
from asl_airflow.integrations._optimized import MAX_POLLS, POLL_SECONDS, named_errors
from asl_airflow.integrations.base import (
    REQUEST_RESPONSE,
    SYNC,
    WAIT_FOR_TASK_TOKEN,
    Integration,
    ServiceCall,
    parse_resource,
    submit_once,
)

_PREFIX, _SERVICE, _GENERIC = "ECS", "AmazonECS", "AmazonECSException"
#: what Step Functions fails a .sync / .waitForTaskToken RunTask with when ECS answered with Failures
UNKNOWN = "AmazonECS.Unknown"
STARTED_BY = "AWS Step Functions"


def run_task_request(call: ServiceCall) -> dict[str, Any]:
    """The RunTask request for the Task's Parameters (members the API does not know are dropped, as
    Step Functions ignores them); a ``.sync`` attempt carries ``startedBy`` and its client token."""
    request = _shapes.known_request("ecs", "RunTask", call.parameters, call.resource)
    if call.pattern == SYNC:
        request["startedBy"] = STARTED_BY
        if call.attempt_token and not request.get("clientToken"):
            request["clientToken"] = call.attempt_token
    return request


def _hook(call: ServiceCall) -> Any:
    from airflow.providers.amazon.aws.hooks.ecs import EcsHook

    return EcsHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name)


def ecs_error(exc: BaseException) -> AslError | None:
    """The Step Functions error for an exception of an ECS call, else None."""
    from asl_airflow.integrations._optimized import declared_or_generic, refused_request

    return (declared_or_generic(exc, _PREFIX, _SERVICE, _GENERIC)
            or refused_request(exc, _PREFIX, _SERVICE, "InvalidParameterException"))


def _failures(response: dict[str, Any]) -> None:
    if response.get("failures"):
        shaped = _shapes.response("ecs", "RunTask", response)
        raise AslError(UNKNOWN, json.dumps(shaped, separators=(",", ":")))


def _started(client: Any, request: dict[str, Any]) -> dict[str, Any]:
    """Run the task; what the attempt records: the cluster and the ARNs of the tasks it started."""
    response = client.run_task(**request)
    _failures(response)
    tasks = response.get("tasks") or []
    if not tasks:
        raise AslError(UNKNOWN, json.dumps(_shapes.response("ecs", "RunTask", response), separators=(",", ":")))
    return {"cluster": tasks[0]["clusterArn"], "tasks": [task["taskArn"] for task in tasks]}


def task_failed(task: dict[str, Any]) -> bool:
    """Whether a STOPPED task (DescribeTasks, API casing) failed: a container exited non-zero, or
    ended without an exit code (it never ran to its end: failed to start, stopped by StopTask)."""
    containers = task.get("containers") or []
    return not containers or any(container.get("exitCode") != 0 for container in containers)


def _describe(client: Any, started: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.describe_tasks(cluster=started["cluster"], tasks=started["tasks"])
    found = {task["taskArn"]: task for task in response.get("tasks", [])}
    missing = [arn for arn in started["tasks"] if arn not in found]
    if missing:
        raise AslError("States.TaskFailed", json.dumps(
            _shapes.response("ecs", "DescribeTasks", response), separators=(",", ":")))
    return [found[arn] for arn in started["tasks"]]


def _running(tasks: list[dict[str, Any]]) -> str | None:
    return next((task["taskArn"] for task in tasks if task.get("lastStatus") != "STOPPED"), None)


def _finished(tasks: list[dict[str, Any]]) -> Any:
    described = [_shapes.response("ecs", "DescribeTasks", task, "Task") for task in tasks]
    for raw, shaped in zip(tasks, described, strict=True):
        if task_failed(raw):
            raise AslError("States.TaskFailed", json.dumps(shaped, separators=(",", ":")))
    return described[0] if len(described) == 1 else described


def _defer(call: ServiceCall, started: dict[str, Any], task_arn: str) -> None:
    from airflow.providers.amazon.aws.triggers.ecs import TaskDoneTrigger
    from airflow.sdk.exceptions import TaskDeferred

    raise TaskDeferred(
        trigger=TaskDoneTrigger(
            cluster=started["cluster"], task_arn=task_arn, waiter_delay=POLL_SECONDS,
            waiter_max_attempts=MAX_POLLS, aws_conn_id=call.aws_conn_id, region_name=call.region_name,
        ),
        method_name="execute_complete",
    )


def start(call: ServiceCall, context: Any) -> Any:
    hook = _hook(call)
    request = run_task_request(call)
    with named_errors(ecs_error):
        if call.pattern != SYNC:
            response = hook.conn.run_task(**request)
            if parse_resource(call.resource)[2] == WAIT_FOR_TASK_TOKEN:
                _failures(response)  # the token wait would never end
            return {**_shapes.response("ecs", "RunTask", response), **_shapes.sdk_metadata(response)}
        started = submit_once(call, submit=lambda: _started(hook.conn, request))
        if call.deferrable:  # a task just started is not STOPPED yet: wait on the trigger at once
            _defer(call, started, started["tasks"][0])
        hook.get_waiter("tasks_stopped").wait(
            cluster=started["cluster"], tasks=started["tasks"],
            WaiterConfig={"Delay": POLL_SECONDS, "MaxAttempts": MAX_POLLS})
        return _finished(_describe(hook.conn, started))


def resume(call: ServiceCall, context: Any, method_name: str, event: Any) -> Any:
    """Back from ``TaskDoneTrigger``: every task the attempt started is described again; one still
    running (``Count`` > 1) is waited for on the same trigger."""
    record = call.journal.get() if call.journal is not None else None
    started = (record or {}).get("id")
    if not isinstance(started, dict):
        if not isinstance(event, dict) or not event.get("task_arn"):
            raise AslError("States.TaskFailed", f"the ECS trigger reported no task: {event!r}")
        started = {"cluster": event.get("cluster"), "tasks": [event["task_arn"]]}
    with named_errors(ecs_error):
        tasks = _describe(_hook(call).conn, started)
    running = _running(tasks)
    if running is not None:
        _defer(call, started, running)
    return _finished(tasks)


def error_name(exc: BaseException, call: ServiceCall) -> str | None:
    error = ecs_error(exc)
    return error.error if error else None


RUN_TASK = Integration(
    "ecs", "runTask", frozenset({REQUEST_RESPONSE, SYNC, WAIT_FOR_TASK_TOKEN}), _PREFIX, start, resume, error_name,
)

ENTRIES = (RUN_TASK,)
