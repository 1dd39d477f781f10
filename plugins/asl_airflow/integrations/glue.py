"""AWS Glue jobs: ``arn:aws:states:::glue:startJobRun`` (request-response and ``.sync``).

- request-response: StartJobRun through the provider's ``GlueJobHook`` client, answered as
  Step Functions does: ``JobRunId`` with the request's ``JobName`` added.
- ``.sync``: StartJobRun through the hook with the Parameters as given (``GlueJobOperator``
  would create a missing job and add its own ``--airflow_task_uuid`` argument; Step Functions
  does neither), then the provider's ``GlueJobCompleteTrigger``, resumed by
  ``GlueJobOperator.execute_complete``; the local engine waits with the hook's
  ``job_completion``. The result is the run's ``JobRun`` (GetJobRun), timestamps in epoch
  milliseconds; a run that ends FAILED, ERROR, TIMEOUT or STOPPED fails the Task with
  ``States.TaskFailed`` and the run as the cause.

A missing job fails as AWS says (``Glue.EntityNotFoundException``). StartJobRun has no client
token, so a ``.sync`` attempt records its submission (``submit_once``): pending just before the
call, the run id right after. A re-run of the attempt after a worker crash waits for the recorded
run; when only the pending mark made it, it looks for the run in GetJobRuns: a run of this job
started since the mark (less a minute of clock skew) with exactly this attempt's Arguments and
settings. Only an identical run of the same job started by someone else in that window could be
taken for it (the residual of an API without idempotency). The Glue crawler has no optimized
integration: use ``aws-sdk:glue:startCrawler`` / ``getCrawler``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations._optimized import MAX_POLLS, POLL_SECONDS, epoch_ms, event_id, only, raise_v1
from asl_airflow.integrations.base import REQUEST_RESPONSE, SYNC, Integration, ServiceCall, submit_once

_PREFIX, _SERVICE = "Glue", "AWSGlue"
_START = frozenset({
    "JobName", "JobRunId", "Arguments", "AllocatedCapacity", "Timeout", "MaxCapacity", "SecurityConfiguration",
    "NotificationProperty", "WorkerType", "NumberOfWorkers", "ExecutionClass", "JobRunQueuingEnabled",
})
_ENDED_BADLY = ("FAILED", "ERROR", "TIMEOUT", "STOPPED")


def _hook(call: ServiceCall, job_name: str | None = None) -> Any:
    from airflow.providers.amazon.aws.hooks.glue import GlueJobHook

    return GlueJobHook(job_name=job_name, aws_conn_id=call.aws_conn_id, region_name=call.region_name,
                       job_poll_interval=POLL_SECONDS)


def _params(call: ServiceCall) -> dict[str, Any]:
    params = only(call.parameters, _START, call.resource)
    if "JobName" not in params:
        raise AslError("States.Runtime", f"{call.resource} needs Parameters.JobName")
    return params


def _operator(call: ServiceCall, params: dict[str, Any]) -> Any:
    from airflow.providers.amazon.aws.operators.glue import GlueJobOperator

    run_kwargs = {k: v for k, v in params.items() if k not in ("JobName", "Arguments")}
    return GlueJobOperator(
        task_id=call.task_id, job_name=params["JobName"], script_args=dict(params.get("Arguments") or {}),
        run_job_kwargs=run_kwargs, deferrable=True, verbose=False, waiter_delay=POLL_SECONDS,
        waiter_max_attempts=MAX_POLLS, aws_conn_id=call.aws_conn_id, region_name=call.region_name,
        do_xcom_push=False,
    )


def _finish(call: ServiceCall, job_name: str, run_id: str) -> Any:
    job_run = epoch_ms(_hook(call, job_name).conn.get_job_run(JobName=job_name, RunId=run_id)["JobRun"])
    if job_run.get("JobRunState") in _ENDED_BADLY:
        raise AslError("States.TaskFailed", json.dumps(job_run, separators=(",", ":")))
    return job_run


#: how far before the pending mark a run may have started and still be this attempt's (clock skew)
_SKEW_SECONDS = 60
#: the JobRun fields that must equal the request for a run to be taken for this attempt's
_MATCHED = ("AllocatedCapacity", "Timeout", "MaxCapacity", "SecurityConfiguration", "NotificationProperty",
            "WorkerType", "NumberOfWorkers", "ExecutionClass")


def _find_run(hook: Any, params: dict[str, Any], record: dict[str, Any]) -> str | None:
    """The run this attempt started before its worker died (see the module docstring), or None."""
    since = datetime.fromisoformat(record["pending"]) - timedelta(seconds=_SKEW_SECONDS)
    runs: list[dict[str, Any]] = []
    for page in hook.conn.get_paginator("get_job_runs").paginate(JobName=params["JobName"]):
        runs.extend(page.get("JobRuns", []))
    mine = [
        run for run in runs
        if run.get("StartedOn") and run["StartedOn"] >= since
        and (run.get("Arguments") or {}) == (params.get("Arguments") or {})
        and all(run.get(key) == params[key] for key in _MATCHED if key in params)
    ]
    return min(mine, key=lambda run: run["StartedOn"])["Id"] if mine else None


def start(call: ServiceCall, context: Any) -> Any:
    from airflow.providers.common.compat.sdk import AirflowException

    params = _params(call)
    hook = _hook(call, params["JobName"])
    try:
        if call.pattern != SYNC:
            response = hook.conn.start_job_run(**params)
            return {"JobName": params["JobName"], "JobRunId": response["JobRunId"]}
        run_id = submit_once(
            call,
            submit=lambda: _submit(hook, params),
            find=lambda record: _find_run(hook, params, record),
        )
    except AslError:
        raise
    except Exception as exc:
        raise_v1(exc, _PREFIX, _SERVICE)
        raise
    if call.deferrable:
        from airflow.providers.amazon.aws.triggers.glue import GlueJobCompleteTrigger
        from airflow.sdk.exceptions import TaskDeferred

        raise TaskDeferred(
            trigger=GlueJobCompleteTrigger(
                job_name=params["JobName"], run_id=run_id, verbose=False, aws_conn_id=call.aws_conn_id,
                waiter_delay=POLL_SECONDS, waiter_max_attempts=MAX_POLLS, region_name=call.region_name,
            ),
            method_name="execute_complete",
        )
    try:
        hook.job_completion(params["JobName"], run_id, verbose=False)
    except AirflowException:  # the run failed: _finish describes it
        pass
    return _finish(call, params["JobName"], run_id)


def _submit(hook: Any, params: dict[str, Any]) -> str:
    hook.conn.get_job(JobName=params["JobName"])  # Step Functions never creates the job
    return hook.conn.start_job_run(**params)["JobRunId"]


def resume(call: ServiceCall, context: Any, method_name: str, event: Any) -> Any:
    params = _params(call)
    run_id = event_id(event, "run_id")
    if not run_id:
        raise AslError("States.TaskFailed", f"the Glue trigger reported no job run: {event!r}")
    try:
        getattr(_operator(call, params), method_name)(context, event=event)
    except Exception:  # the trigger saw the run fail: GetJobRun says how, and is the cause
        pass
    return _finish(call, params["JobName"], run_id)


def error_name(exc: BaseException, call: ServiceCall) -> str | None:
    from asl_airflow.integrations._optimized import v1_error

    error = v1_error(exc, _PREFIX, _SERVICE)
    return error.error if error else None


START_JOB_RUN = Integration(
    "glue", "startJobRun", frozenset({REQUEST_RESPONSE, SYNC}), _PREFIX, start, resume, error_name,
)

ENTRIES = (START_JOB_RUN,)
