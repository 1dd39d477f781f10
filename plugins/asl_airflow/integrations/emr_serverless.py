"""Amazon EMR Serverless ``startJobRun``: request-response and ``.sync``.

Runs the provider's ``EmrServerlessStartJobOperator`` (it starts a stopped application first, as
EMR Serverless' auto-start would); ``.sync`` defers on its ``EmrServerlessStartJobTrigger``, or, in
the local engine, waits with the provider's ``serverless_job_completed`` waiter. Step Functions
returns the StartJobRun response (``ApplicationId``, ``JobRunId``, ``Arn``) for both patterns, the
``.sync`` one once the run reached SUCCESS; a run that ends FAILED or CANCELLED is ``States.TaskFailed``.

StartJobRun is idempotent by ``clientToken``: a ``.sync`` attempt sends the Parameters' token or,
without one, a token derived from the ASL attempt (the operator would draw a random one), so a
re-run of the attempt after a worker crash gets the same job run back instead of a second one.
"""

from __future__ import annotations

from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import _shapes
from asl_airflow.integrations.base import REQUEST_RESPONSE, SYNC, Integration, ServiceCall, run_nested

#: seconds between two GetJobRun calls while waiting
POLL_SECONDS = 30
#: the wait gives up after this many polls (a day: EMR Serverless' default run timeout is 12 hours)
MAX_POLLS = 2_880


def _operator(call: ServiceCall) -> Any:
    from airflow.providers.amazon.aws.operators.emr import EmrServerlessStartJobOperator

    request = _shapes.request("emr-serverless", "StartJobRun", call.parameters)
    missing = [k for k in ("applicationId", "executionRoleArn", "jobDriver") if k not in request]
    if missing:
        raise AslError("States.Runtime", f"emr-serverless:startJobRun needs Parameters {missing}")
    wait = call.pattern == SYNC
    return EmrServerlessStartJobOperator(
        task_id=call.task_id,
        aws_conn_id=call.aws_conn_id,
        region_name=call.region_name,
        application_id=request.pop("applicationId"),
        execution_role_arn=request.pop("executionRoleArn"),
        job_driver=request.pop("jobDriver"),
        configuration_overrides=request.pop("configurationOverrides", None),
        # the attempt's token: the same on a re-run after a worker crash, new for an ASL retry
        client_request_token=request.pop("clientToken", None) or (call.attempt_token if wait else None) or "",
        name=request.pop("name", None),
        config=request,  # tags, executionTimeoutMinutes, mode, retryPolicy, ...: passed through as given
        wait_for_completion=wait,
        deferrable=wait and call.deferrable,
        waiter_delay=POLL_SECONDS,
        waiter_max_attempts=MAX_POLLS,
        do_xcom_push=False,
    )


def _shape(operator: Any, job_run_id: str) -> dict[str, Any]:
    run = operator.hook.conn.get_job_run(applicationId=operator.application_id, jobRunId=job_run_id)["jobRun"]
    return {"ApplicationId": run["applicationId"], "JobRunId": run["jobRunId"], "Arn": run["arn"]}


def start(call: ServiceCall, context: Any) -> Any:
    operator = _operator(call)
    return _shape(operator, run_nested(operator, context))


def resume(call: ServiceCall, context: Any, method_name: str, event: Any) -> Any:
    operator = _operator(call)
    return _shape(operator, getattr(operator, method_name)(context, event=event))


def error_name(exc: BaseException, call: ServiceCall) -> str | None:
    from asl_airflow.integrations.errors import client_error_code

    error = _shapes.chained_client_error(exc)
    if error is not None:
        code = client_error_code(error) or "EMRServerlessException"
        return f"EMRServerless.{code if code.endswith('Exception') else code + 'Exception'}"
    if "failed" in str(exc).lower():
        return "States.TaskFailed"
    return None


START_JOB_RUN = Integration(
    "emr-serverless", "startJobRun", frozenset({REQUEST_RESPONSE, SYNC}), "EMRServerless", start, resume, error_name
)

ENTRIES = (START_JOB_RUN,)
