"""Amazon EMR on EC2: ``addStep``, ``createCluster`` and ``terminateCluster``, request-response and ``.sync``.

Step Functions wraps the EMR API: ``addStep`` takes one ``Step`` and returns its ``StepId``;
``createCluster`` is RunJobFlow (``Instances.KeepJobFlowAliveWhenNoSteps`` must be true) and returns
``ClusterId``; ``terminateCluster`` is TerminateJobFlows for one ``ClusterId`` and returns ``{}``.
``.sync`` waits for the step to complete, the cluster to be WAITING, or the cluster to be
TERMINATED, with the provider's operators: deferred on ``EmrAddStepsTrigger`` /
``EmrCreateJobFlowTrigger`` / ``EmrTerminateJobFlowTrigger``, or, in the local engine, with their
waiters. A step or cluster that ends failed is ``States.TaskFailed``.
"""

from __future__ import annotations

from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import _shapes
from asl_airflow.integrations.base import REQUEST_RESPONSE, SYNC, Integration, ServiceCall, run_nested

#: Step Functions polls EMR once a minute
POLL_SECONDS = 60
#: the wait gives up after this many polls (a week)
MAX_POLLS = 10_080

BOTH = frozenset({REQUEST_RESPONSE, SYNC})


def _params(call: ServiceCall, *required: str) -> dict[str, Any]:
    params = dict(call.parameters or {})
    missing = [key for key in required if key not in params]
    if missing:
        raise AslError("States.Runtime", f"elasticmapreduce:{call.action} needs Parameters {missing}")
    return params


def _common(call: ServiceCall) -> dict[str, Any]:
    wait = call.pattern == SYNC
    return {
        "task_id": call.task_id,
        "aws_conn_id": call.aws_conn_id,
        "region_name": call.region_name,
        "waiter_delay": POLL_SECONDS,
        "waiter_max_attempts": MAX_POLLS,
        "deferrable": wait and call.deferrable,
        "do_xcom_push": False,  # no provider links pushed from inside the state task
    }


def _add_step(call: ServiceCall) -> Any:
    from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator

    params = _params(call, "ClusterId", "Step")
    return EmrAddStepsOperator(
        **_common(call),
        job_flow_id=params["ClusterId"],
        steps=[params["Step"]],
        execution_role_arn=params.get("ExecutionRoleArn"),
        wait_for_completion=call.pattern == SYNC,
    )


def _create_cluster(call: ServiceCall) -> Any:
    from airflow.providers.amazon.aws.operators.emr import EmrCreateJobFlowOperator

    params = _params(call, "Name", "Instances")
    if params["Instances"].get("KeepJobFlowAliveWhenNoSteps") is not True or "Steps" in params:
        raise AslError(
            "States.Runtime",
            "elasticmapreduce:createCluster needs Instances.KeepJobFlowAliveWhenNoSteps = true and no Steps "
            "(add steps with elasticmapreduce:addStep)",
        )
    return EmrCreateJobFlowOperator(
        **_common(call),
        emr_conn_id=None,  # the request is the Parameters alone, never merged with a connection's extra
        job_flow_overrides=params,
        wait_for_completion=call.pattern == SYNC,
    )


def _terminate_cluster(call: ServiceCall) -> Any:
    from airflow.providers.amazon.aws.operators.emr import EmrTerminateJobFlowOperator

    params = _params(call, "ClusterId")
    return EmrTerminateJobFlowOperator(**_common(call), job_flow_id=params["ClusterId"])


def _step_output(result: Any) -> dict[str, Any]:
    step_ids = result if isinstance(result, list) else [result]
    return {"StepId": step_ids[0]}


def _cluster_output(operator: Any, result: Any) -> dict[str, Any]:
    return {"ClusterId": result}


_KINDS = {
    "addStep": (_add_step, lambda operator, result: _step_output(result)),
    "createCluster": (_create_cluster, _cluster_output),
    "terminateCluster": (_terminate_cluster, lambda operator, result: {}),
}


def _entry(action: str) -> Integration:
    build, shape = _KINDS[action]

    def start(call: ServiceCall, context: Any) -> Any:
        operator = build(call)
        result = run_nested(operator, context)
        if action == "terminateCluster" and call.pattern == SYNC and not call.deferrable:
            # the terminate operator waits only in its deferrable form; the local engine uses the same waiter
            operator.hook.get_waiter("cluster_terminated").wait(
                ClusterId=operator.job_flow_id, WaiterConfig={"Delay": POLL_SECONDS, "MaxAttempts": MAX_POLLS}
            )
        return shape(operator, result)

    def resume(call: ServiceCall, context: Any, method_name: str, event: Any) -> Any:
        operator = build(call)
        return shape(operator, getattr(operator, method_name)(context, event=event))

    return Integration("elasticmapreduce", action, BOTH, "ElasticMapReduce", start, resume, error_name)


def error_name(exc: BaseException, call: ServiceCall) -> str | None:
    """EMR's modelled errors keep their names (``ElasticMapReduce.InvalidRequestException``); any
    other EMR answer is ``ElasticMapReduce.AmazonElasticMapReduceException``; a failed step or cluster
    (the provider's waiter or trigger reports it) is ``States.TaskFailed``."""
    from asl_airflow.integrations.errors import client_error_code

    error = _shapes.chained_client_error(exc)
    if error is not None:
        code = client_error_code(error)
        if code in ("InvalidRequestException", "InternalServerException", "InternalServerError"):
            return f"ElasticMapReduce.{code}"
        if code in ("AccessDenied", "AccessDeniedException"):
            return "States.Permissions"
        return "ElasticMapReduce.AmazonElasticMapReduceException"
    text = str(exc).lower()
    if "failed" in text or "error while running" in text:
        return "States.TaskFailed"
    return None


ADD_STEP = _entry("addStep")
CREATE_CLUSTER = _entry("createCluster")
TERMINATE_CLUSTER = _entry("terminateCluster")

ENTRIES = (ADD_STEP, CREATE_CLUSTER, TERMINATE_CLUSTER)
