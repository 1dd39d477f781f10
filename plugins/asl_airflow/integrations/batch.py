"""AWS Batch ``submitJob``: request-response and ``.sync``.

The job is submitted through the provider's ``BatchClientHook`` with the whole SubmitJob request:
``BatchOperator`` cannot pass ``DependsOn``, ``PropagateTags`` or a ``Timeout`` as given and returns
only the job id, while Step Functions accepts every SubmitJob field and returns the job. ``.sync``
then waits the provider's way: deferred on ``BatchJobTrigger`` (the job id is known before the
deferral, so a resumed task reconnects to the same job), or, in the local engine, the hook's
``wait_for_job``. The result is the DescribeJobs entry of the job in Step Functions' PascalCase; a
job that ends FAILED is ``States.TaskFailed`` with that description as the Cause, as on AWS.

SubmitJob has no client token: a ``.sync`` attempt records its submission (pending just before
the call, the job id right after), and a re-run of the attempt after a worker crash waits for the
recorded job. When only the pending mark made it, the job is looked up: ListJobs on the queue
filtered by the job name (every status), created since the mark less a minute of clock skew, with
the same job definition and parameters (DescribeJobs). Only an identical job submitted by someone
else to the same queue in that window could be taken for it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import _shapes
from asl_airflow.integrations.base import REQUEST_RESPONSE, SYNC, Integration, ServiceCall, submit_once

#: seconds between two DescribeJobs of the trigger (Step Functions' own poll is of this order)
POLL_SECONDS = 30
#: the trigger gives up after this many polls (about a week, beyond Batch's usual job lengths)
MAX_POLLS = 20_160


def _hook(call: ServiceCall) -> Any:
    from airflow.providers.amazon.aws.hooks.batch_client import BatchClientHook

    return BatchClientHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name)


def _described(hook: Any, job_id: str) -> dict[str, Any]:
    return _shapes.response("batch", "DescribeJobs", hook.get_job_description(job_id), "JobDetail")


def _finished(hook: Any, job_id: str) -> dict[str, Any]:
    """The job's description once it ended: the output when it SUCCEEDED, States.TaskFailed otherwise."""
    job = _described(hook, job_id)
    if job.get("Status") != hook.SUCCESS_STATE:
        raise AslError("States.TaskFailed", json.dumps(job, separators=(",", ":")))
    return job


#: how far before the pending mark a job may have been created and still be this attempt's
_SKEW_SECONDS = 60


def _find_job(hook: Any, request: dict[str, Any], record: dict[str, Any]) -> str | None:
    """The job this attempt submitted before its worker died (see the module docstring), or None."""
    since_ms = (datetime.fromisoformat(record["pending"]).timestamp() - _SKEW_SECONDS) * 1000
    summaries: list[dict[str, Any]] = []
    pages = hook.client.get_paginator("list_jobs").paginate(
        jobQueue=request["jobQueue"], filters=[{"name": "JOB_NAME", "values": [request["jobName"]]}])
    for page in pages:
        summaries.extend(page.get("jobSummaryList", []))
    recent = [s["jobId"] for s in summaries if s.get("jobName") == request["jobName"]
              and (s.get("createdAt") or 0) >= since_ms]
    if not recent:
        return None
    definition = request["jobDefinition"]
    mine = [
        job for job in hook.client.describe_jobs(jobs=recent[:100]).get("jobs", [])
        if (job.get("parameters") or {}) == (request.get("parameters") or {})
        and definition in (job.get("jobDefinition"), job.get("jobDefinition", "").rsplit("/", 1)[-1],
                           job.get("jobDefinition", "").rsplit("/", 1)[-1].split(":")[0])
    ]
    return min(mine, key=lambda job: job.get("createdAt") or 0)["jobId"] if mine else None


def start(call: ServiceCall, context: Any) -> Any:
    hook = _hook(call)
    request = _shapes.request("batch", "SubmitJob", call.parameters)
    if call.pattern != SYNC:
        raw = hook.client.submit_job(**request)
        return {**_shapes.response("batch", "SubmitJob", raw), **_shapes.sdk_metadata(raw)}
    job_id = submit_once(
        call,
        submit=lambda: hook.client.submit_job(**request)["jobId"],
        find=lambda record: _find_job(hook, request, record),
    )
    if call.deferrable:
        status = hook.get_job_description(job_id).get("status")
        if status in hook.INTERMEDIATE_STATES:
            from airflow.providers.amazon.aws.triggers.batch import BatchJobTrigger
            from airflow.sdk.exceptions import TaskDeferred

            raise TaskDeferred(
                trigger=BatchJobTrigger(
                    job_id=job_id, waiter_delay=POLL_SECONDS, waiter_max_attempts=MAX_POLLS,
                    aws_conn_id=call.aws_conn_id, region_name=call.region_name,
                ),
                method_name="execute_complete",
            )
    else:
        hook.wait_for_job(job_id)
    return _finished(hook, job_id)


def resume(call: ServiceCall, context: Any, method_name: str, event: Any) -> Any:
    """Back from ``BatchJobTrigger``: its event names the job; its status is read again, so a
    trigger that gave up is reported by the job's real state."""
    from airflow.providers.amazon.aws.utils import validate_execute_complete_event

    validated = validate_execute_complete_event(event)
    hook = _hook(call)
    job = _described(hook, validated["job_id"])
    if validated["status"] != "success" and job.get("Status") in hook.INTERMEDIATE_STATES:
        raise AslError("States.TaskFailed", f"Batch job {validated['job_id']} did not finish: {validated}")
    return _finished(hook, validated["job_id"])


def error_name(exc: BaseException, call: ServiceCall) -> str | None:
    """Batch's modelled errors keep their names (``Batch.ClientException``, ``Batch.ServerException``);
    everything else AWS Batch answers is ``Batch.AWSBatchException``, as the Java SDK Step Functions
    uses names it."""
    from asl_airflow.integrations.errors import client_error_code

    error = _shapes.chained_client_error(exc)
    if error is None:
        return None
    code = client_error_code(error)
    if code in ("ClientException", "ServerException"):
        return f"Batch.{code}"
    if code in ("AccessDenied", "AccessDeniedException"):
        return "States.Permissions"
    return "Batch.AWSBatchException"


SUBMIT_JOB = Integration(
    "batch", "submitJob", frozenset({REQUEST_RESPONSE, SYNC}), "Batch", start, resume, error_name
)

ENTRIES = (SUBMIT_JOB,)
