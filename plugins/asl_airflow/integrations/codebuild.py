"""AWS CodeBuild: ``arn:aws:states:::codebuild:startBuild`` (request-response and ``.sync``) and
``codebuild:stopBuild`` (request-response).

The calls go through an ``AwsBaseHook`` client for ``codebuild`` (the Amazon provider has no CodeBuild
hook or operator). Step Functions takes the Parameters in PascalCase (``ProjectName``,
``EnvironmentVariablesOverride``, ``SourceVersion``) and answers in PascalCase even though CodeBuild's
API is camelCase, so both are renamed by CodeBuild's botocore model (``_shapes``); members the API does
not know are dropped. StartBuild answers ``{"Build": {...}}``; ``.sync`` waits until the build ends,
deferred on ``CodeBuildCompleteTrigger`` (the provider's ``AwsBaseWaiterTrigger`` on a BatchGetBuilds
waiter, see ``_codebuild_trigger``; the local engine runs the same waiter in the worker), and answers
the ended build as ``{"Build": {...}}`` (what a following state reads as ``$.Build.ReportArns``); a
build that ends FAILED, FAULT, STOPPED or TIMED_OUT is ``States.TaskFailed`` with that response as
the Cause. StopBuild answers ``{"Build": {...}}``, the stopped build.

A ``.sync`` attempt sends StartBuild's ``idempotencyToken`` (the Parameters' own, else one derived
from the ASL attempt), so a re-run after a worker crash gets the same build back instead of building
twice, within the 5 minutes CodeBuild keeps a token.

Service errors are the SDK's classes: a declared error keeps its name
(``CodeBuild.ResourceNotFoundException``, ``CodeBuild.InvalidInputException``,
``CodeBuild.AccountLimitExceededException``), anything else is ``CodeBuild.AWSCodeBuildException``.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import _shapes
from asl_airflow.integrations._optimized import MAX_POLLS, POLL_SECONDS, named_errors
from asl_airflow.integrations.base import REQUEST_RESPONSE, SYNC, Integration, ServiceCall, sync_job

_PREFIX, _SERVICE, _GENERIC = "CodeBuild", "AWSCodeBuild", "AWSCodeBuildException"
_ENDED_BADLY = ("FAILED", "FAULT", "STOPPED", "TIMED_OUT")


def start_build_request(call: ServiceCall) -> dict[str, Any]:
    """The StartBuild request in CodeBuild's names, with a ``.sync`` attempt's idempotency token."""
    request = _shapes.known_request("codebuild", "StartBuild", call.parameters, call.resource)
    if call.pattern == SYNC and call.attempt_token and not request.get("idempotencyToken"):
        request["idempotencyToken"] = call.attempt_token
    return request


def _hook(call: ServiceCall) -> Any:
    from asl_airflow.integrations._codebuild_trigger import CodeBuildHook

    return CodeBuildHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name)


def codebuild_error(exc: BaseException) -> AslError | None:
    """The Step Functions error for an exception of a CodeBuild call, else None."""
    from asl_airflow.integrations._optimized import declared_or_generic, refused_request

    return (declared_or_generic(exc, _PREFIX, _SERVICE, _GENERIC)
            or refused_request(exc, _PREFIX, _SERVICE, "InvalidInputException"))


def _build(hook: Any, build_id: str) -> dict[str, Any]:
    """``{"Build": ...}``: the build as BatchGetBuilds has it now, in Step Functions' names."""
    builds = hook.conn.batch_get_builds(ids=[build_id]).get("builds") or []
    if not builds:
        raise AslError("States.TaskFailed", f"CodeBuild has no build {build_id}")
    return {"Build": _shapes.response("codebuild", "BatchGetBuilds", builds[0], "Build")}


def ended(build: dict[str, Any]) -> dict[str, Any]:
    """The ``.sync`` output of an ended build, or ``States.TaskFailed`` (the build as the Cause)."""
    if build.get("Build", {}).get("BuildStatus") in _ENDED_BADLY:
        raise AslError("States.TaskFailed", json.dumps(build, separators=(",", ":")))
    return build


def _trigger(call: ServiceCall, build_id: str) -> Any:
    from asl_airflow.integrations._codebuild_trigger import CodeBuildCompleteTrigger

    return CodeBuildCompleteTrigger(build_id=build_id, waiter_delay=POLL_SECONDS, waiter_max_attempts=MAX_POLLS,
                                    aws_conn_id=call.aws_conn_id, region_name=call.region_name)


def _finished(hook: Any, build_id: str) -> dict[str, Any]:
    return ended(_build(hook, build_id))


def start(call: ServiceCall, context: Any) -> Any:
    hook = _hook(call)
    request = start_build_request(call)
    with named_errors(codebuild_error):
        if call.pattern != SYNC:
            return _shapes.response("codebuild", "StartBuild", hook.conn.start_build(**request))
        return sync_job(call, lambda: hook.conn.start_build(**request)["build"]["id"], partial(_trigger, call),
                        lambda build_id: hook.wait_in_worker(ids=[build_id]), partial(_finished, hook))


def resume(call: ServiceCall, context: Any, method_name: str, event: Any) -> Any:
    """Back from the trigger: read the build again, so the Task reports the build's own state (a
    trigger that gave up on a build still running fails with the trigger's message)."""
    build_id = event.get("build_id") if isinstance(event, dict) else None
    if not build_id:
        raise AslError("States.TaskFailed", f"the CodeBuild trigger reported no build: {event!r}")
    hook = _hook(call)
    with named_errors(codebuild_error):
        build = _finished(hook, build_id)
    if build["Build"].get("BuildStatus") != "SUCCEEDED":
        raise AslError("States.TaskFailed", f"CodeBuild build {build_id} did not finish: {event!r}")
    return build


def stop(call: ServiceCall, context: Any) -> Any:
    request = _shapes.known_request("codebuild", "StopBuild", call.parameters, call.resource)
    with named_errors(codebuild_error):
        return _shapes.response("codebuild", "StopBuild", _hook(call).conn.stop_build(**request))


def error_name(exc: BaseException, call: ServiceCall) -> str | None:
    error = codebuild_error(exc)
    return error.error if error else None


START_BUILD = Integration(
    "codebuild", "startBuild", frozenset({REQUEST_RESPONSE, SYNC}), _PREFIX, start, resume, error_name,
)
STOP_BUILD = Integration("codebuild", "stopBuild", frozenset({REQUEST_RESPONSE}), _PREFIX, stop, None, error_name)

ENTRIES = (START_BUILD, STOP_BUILD)
