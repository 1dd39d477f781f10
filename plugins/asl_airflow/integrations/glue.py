"""AWS Glue jobs: ``arn:aws:states:::glue:startJobRun`` (request-response and ``.sync``).

- request-response: StartJobRun through the provider's ``GlueJobHook`` client, answered as
  Step Functions does: ``JobRunId`` with the request's ``JobName`` added.
- ``.sync``: the provider's ``GlueJobOperator`` starts the run and defers to
  ``GlueJobCompleteTrigger``; the local engine starts it through the hook and waits with the
  provider's ``job_completion``. The result is the run's ``JobRun`` (GetJobRun), timestamps in
  epoch milliseconds; a run that ends FAILED, ERROR, TIMEOUT or STOPPED fails the Task with
  ``States.TaskFailed`` and the run as the cause.

Step Functions only runs existing jobs, while ``GlueJobOperator`` would create a missing one, so
the job is read first: a missing job fails as AWS says (``Glue.EntityNotFoundException``). The
run id reaches ``resume`` in the trigger's event, so a worker crash while the run goes on
reconnects to it. The Glue crawler has no optimized integration: use
``aws-sdk:glue:startCrawler`` / ``getCrawler``.
"""

from __future__ import annotations

import json
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations._optimized import MAX_POLLS, POLL_SECONDS, epoch_ms, event_id, only, raise_v1
from asl_airflow.integrations.base import REQUEST_RESPONSE, SYNC, Integration, ServiceCall, run_nested

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


def start(call: ServiceCall, context: Any) -> Any:
    from airflow.providers.common.compat.sdk import AirflowException

    params = _params(call)
    hook = _hook(call, params["JobName"])
    try:
        if call.pattern != SYNC:
            response = hook.conn.start_job_run(**params)
            return {"JobName": params["JobName"], "JobRunId": response["JobRunId"]}
        hook.conn.get_job(JobName=params["JobName"])  # Step Functions never creates the job
        if call.deferrable:
            run_nested(_operator(call, params), context)  # raises TaskDeferred once the run started
            raise AslError("States.Runtime", "GlueJobOperator returned without deferring")
        run_id = hook.conn.start_job_run(**params)["JobRunId"]
    except AslError:
        raise
    except Exception as exc:
        raise_v1(exc, _PREFIX, _SERVICE)
        raise
    try:
        hook.job_completion(params["JobName"], run_id, verbose=False)
    except AirflowException:  # the run failed: _finish describes it
        pass
    return _finish(call, params["JobName"], run_id)


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
