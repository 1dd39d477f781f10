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
from functools import partial
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import _shapes
from asl_airflow.integrations._optimized import MAX_POLLS, POLL_SECONDS, named_errors
from asl_airflow.integrations.base import REQUEST_RESPONSE, SYNC, Integration, ServiceCall, sync_job

_PREFIX, _SERVICE, _GENERIC = "MediaConvert", "AWSMediaConvert", "AWSMediaConvertException"
#: the tag Step Functions puts on every job it creates
MANAGED_BY = {"ManagedByService": "AWSStepFunctions"}
_ENDED_BADLY = ("ERROR", "CANCELED")


def create_job_request(call: ServiceCall) -> dict[str, Any]:
    """The CreateJob request: the API's members, Step Functions' tag, a ``.sync`` attempt's token."""
    request = _shapes.known_request("mediaconvert", "CreateJob", call.parameters, call.resource)
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
    from asl_airflow.integrations._optimized import declared_or_generic, refused_request

    return (declared_or_generic(exc, _PREFIX, _SERVICE, _GENERIC)
            or refused_request(exc, _PREFIX, _SERVICE, "BadRequestException"))


def _finished(hook: Any, job_id: str) -> dict[str, Any]:
    job = _shapes.response("mediaconvert", "GetJob", hook.conn.get_job(Id=job_id))
    if job.get("Job", {}).get("Status") in _ENDED_BADLY:
        raise AslError("States.TaskFailed", json.dumps(job, separators=(",", ":")))
    return job


def _trigger(call: ServiceCall, job_id: str) -> Any:
    from asl_airflow.integrations._mediaconvert_trigger import MediaConvertJobCompleteTrigger

    return MediaConvertJobCompleteTrigger(job_id=job_id, waiter_delay=POLL_SECONDS, waiter_max_attempts=MAX_POLLS,
                                          aws_conn_id=call.aws_conn_id, region_name=call.region_name)


def start(call: ServiceCall, context: Any) -> Any:
    hook = _hook(call)
    request = create_job_request(call)
    with named_errors(mediaconvert_error):
        if call.pattern != SYNC:
            return _shapes.response("mediaconvert", "CreateJob", hook.conn.create_job(**request))
        return sync_job(call, lambda: hook.conn.create_job(**request)["Job"]["Id"], partial(_trigger, call),
                        lambda job_id: hook.wait_in_worker(Id=job_id), partial(_finished, hook))


def resume(call: ServiceCall, context: Any, method_name: str, event: Any) -> Any:
    """Back from the trigger: GetJob again, so the Task reports the job's own state (a trigger that
    gave up on a job still running fails with the trigger's message)."""
    job_id = event.get("job_id") if isinstance(event, dict) else None
    if not job_id:
        raise AslError("States.TaskFailed", f"the MediaConvert trigger reported no job: {event!r}")
    hook = _hook(call)
    with named_errors(mediaconvert_error):
        job = _finished(hook, job_id)
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
