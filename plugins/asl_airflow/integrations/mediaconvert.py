"""AWS Elemental MediaConvert: ``arn:aws:states:::mediaconvert:createJob`` (request-response and ``.sync``).

CreateJob goes through an ``AwsBaseHook`` client for ``mediaconvert`` (the Amazon provider has no
MediaConvert hook or operator) with the Parameters as the API takes them (MediaConvert's model is
PascalCase already; members it does not know are dropped, as Step Functions ignores them). As Step
Functions documents, every job gets the tag ``ManagedByService: AWSStepFunctions`` (added to the
Parameters' ``Tags``). Request-response answers the CreateJob response (``{"Job": {...}}``, times in
epoch milliseconds). ``.sync`` waits until the job ends, deferred on
``MediaConvertJobCompleteTrigger`` (the provider's ``AwsBaseWaiterTrigger`` on a GetJob waiter, see
``_mediaconvert_trigger``; the local engine runs the same waiter in the worker), and answers GetJob
(``{"Job": {...}}``); a job that ends ERROR or CANCELED is ``States.TaskFailed`` with that response as
the Cause. Step Functions has no ``.waitForTaskToken`` optimisation for MediaConvert.

CreateJob is idempotent by ``ClientRequestToken``: a ``.sync`` attempt sends the Parameters' own, else
one derived from the ASL attempt, so a re-run after a worker crash gets the same job back instead
of transcoding twice.

Service errors are the SDK's classes: a declared error keeps its name (``MediaConvert.BadRequestException``,
``MediaConvert.NotFoundException``, ``MediaConvert.TooManyRequestsException``), anything else is
``MediaConvert.AWSMediaConvertException``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import _shapes
from asl_airflow.integrations._optimized import MAX_POLLS, POLL_SECONDS
from asl_airflow.integrations.base import REQUEST_RESPONSE, SYNC, Integration, ServiceCall, submit_once

_PREFIX, _SERVICE, _GENERIC = "MediaConvert", "AWSMediaConvert", "AWSMediaConvertException"
#: the tag Step Functions puts on every job it creates
MANAGED_BY = {"ManagedByService": "AWSStepFunctions"}
_ENDED_BADLY = ("ERROR", "CANCELED")


@lru_cache(maxsize=1)
def _members() -> frozenset[str]:
    import botocore.session

    shape = botocore.session.get_session().get_service_model("mediaconvert").operation_model("CreateJob").input_shape
    return frozenset(name.lower() for name in shape.members)


def create_job_request(call: ServiceCall) -> dict[str, Any]:
    """The CreateJob request: the API's members, Step Functions' tag, a ``.sync`` attempt's token."""
    parameters = call.parameters if call.parameters is not None else {}
    if not isinstance(parameters, dict):
        raise AslError("States.Runtime", f"{call.resource}: Parameters must be a JSON object")
    members = _members()
    request = _shapes.request("mediaconvert", "CreateJob",
                              {k: v for k, v in parameters.items() if k.lower() in members})
    tags = request.get("Tags")
    request["Tags"] = {**(tags if isinstance(tags, dict) else {}), **MANAGED_BY}
    if call.pattern == SYNC and call.attempt_token and not request.get("ClientRequestToken"):
        request["ClientRequestToken"] = call.attempt_token
    return request


def _hook(call: ServiceCall) -> Any:
    from asl_airflow.integrations._mediaconvert_trigger import MediaConvertHook

    return MediaConvertHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name)


def mediaconvert_error(exc: BaseException) -> AslError | None:
    """The Step Functions error for an exception of a MediaConvert call, else None."""
    from asl_airflow.integrations._optimized import declared_or_generic

    error = declared_or_generic(exc, _PREFIX, _SERVICE, _GENERIC)
    if error is None and type(exc).__name__ == "ParamValidationError":  # MediaConvert would answer BadRequest
        error = AslError(f"{_PREFIX}.BadRequestException", f"{exc} (Service: {_SERVICE}; Status Code: 400; "
                         "Error Code: BadRequestException; Request ID: null; Proxy: null)")
    return error


def _finished(hook: Any, job_id: str) -> dict[str, Any]:
    job = _shapes.response("mediaconvert", "GetJob", hook.conn.get_job(Id=job_id))
    if job.get("Job", {}).get("Status") in _ENDED_BADLY:
        raise AslError("States.TaskFailed", json.dumps(job, separators=(",", ":")))
    return job


def start(call: ServiceCall, context: Any) -> Any:
    hook = _hook(call)
    request = create_job_request(call)
    try:
        if call.pattern != SYNC:
            return _shapes.response("mediaconvert", "CreateJob", hook.conn.create_job(**request))
        job_id = submit_once(call, submit=lambda: hook.conn.create_job(**request)["Job"]["Id"])
        if call.deferrable:
            from airflow.sdk.exceptions import TaskDeferred

            from asl_airflow.integrations._mediaconvert_trigger import MediaConvertJobCompleteTrigger

            raise TaskDeferred(
                trigger=MediaConvertJobCompleteTrigger(
                    job_id=job_id, waiter_delay=POLL_SECONDS, waiter_max_attempts=MAX_POLLS,
                    aws_conn_id=call.aws_conn_id, region_name=call.region_name,
                ),
                method_name="execute_complete",
            )
        from botocore.exceptions import WaiterError

        from asl_airflow.integrations._mediaconvert_trigger import JOB_COMPLETE

        try:
            hook.get_waiter(JOB_COMPLETE).wait(
                Id=job_id, WaiterConfig={"Delay": POLL_SECONDS, "MaxAttempts": MAX_POLLS})
        except WaiterError as exc:
            if "terminal failure" not in str(exc):  # the job ended badly: GetJob says how, and is the cause
                raise
        return _finished(hook, job_id)
    except AslError:
        raise
    except Exception as exc:
        error = mediaconvert_error(exc)
        if error is not None:
            raise error from exc
        raise


def resume(call: ServiceCall, context: Any, method_name: str, event: Any) -> Any:
    """Back from the trigger: GetJob again, so the Task reports the job's own state (a trigger that
    gave up on a job still running fails with the trigger's message)."""
    job_id = event.get("job_id") if isinstance(event, dict) else None
    if not job_id:
        raise AslError("States.TaskFailed", f"the MediaConvert trigger reported no job: {event!r}")
    hook = _hook(call)
    try:
        job = _finished(hook, job_id)
    except AslError:
        raise
    except Exception as exc:
        error = mediaconvert_error(exc)
        if error is not None:
            raise error from exc
        raise
    if job.get("Job", {}).get("Status") != "COMPLETE":
        raise AslError("States.TaskFailed", f"MediaConvert job {job_id} did not finish: {event!r}")
    return job


def error_name(exc: BaseException, call: ServiceCall) -> str | None:
    error = mediaconvert_error(exc)
    return error.error if error else None


CREATE_JOB = Integration(
    "mediaconvert", "createJob", frozenset({REQUEST_RESPONSE, SYNC}), _PREFIX, start, resume, error_name,
)

ENTRIES = (CREATE_JOB,)
