"""Amazon SageMaker through the provider's operators: training, tuning, processing, transform, model,
endpoint config and endpoint (the optimised SageMaker APIs of Step Functions; labeling jobs aside).

``.sync`` runs the operator with ``deferrable=True``: the operator submits the job and defers to
the provider's ``SageMakerTrigger``, so no worker slot is held while the job runs. The result is
the job's Describe response, as Step Functions returns it; request-response returns the Create
response (the job ARN). ``createEndpoint`` / ``updateEndpoint`` exist only as request-response in
Step Functions, so they return the ARN as soon as SageMaker accepted the call.

A job's name is its identity (SageMaker refuses a second job of the same name), so a ``.sync``
attempt that a worker crash cut short finds its job by that name and waits for it on the same
trigger instead of creating it again (which SageMaker would refuse with ``ResourceInUse``).
"""

from __future__ import annotations

from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations.base import (
    REQUEST_RESPONSE,
    SYNC,
    Integration,
    ServiceCall,
    reentered,
    run_nested,
)

_STRIP = ("ResponseMetadata",)


def _json_value(value: Any) -> Any:
    """Describe responses as Step Functions returns them: timestamps as epoch milliseconds."""
    from datetime import datetime

    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items() if k not in _STRIP}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def _operator(call: ServiceCall, kind: str) -> Any:
    from airflow.providers.amazon.aws.operators import sagemaker as ops

    common: dict[str, Any] = {
        "task_id": call.task_id,
        "aws_conn_id": call.aws_conn_id,
        "region_name": call.region_name,
        "config": _copy(call.parameters),
    }
    if kind == "model":
        return ops.SageMakerModelOperator(**common)
    if kind == "endpoint_config":
        return ops.SageMakerEndpointConfigOperator(**common)
    wait = call.pattern == SYNC
    if kind == "tuning":
        # the tuning operator has no renaming logic to switch off: it always uses the name given
        return ops.SageMakerTuningOperator(**common, wait_for_completion=wait, deferrable=wait and call.deferrable)
    job_kwargs: dict[str, Any] = {
        "wait_for_completion": wait,
        "deferrable": wait and call.deferrable,
        "check_if_job_exists": False,  # Step Functions uses the name given, never a renamed job
    }
    if kind == "training":
        return ops.SageMakerTrainingOperator(**common, **job_kwargs, print_log=False)
    if kind == "transform":
        return ops.SageMakerTransformOperator(**common, **job_kwargs, check_if_model_exists=False)
    if kind == "processing":
        return ops.SageMakerProcessingOperator(**common, **job_kwargs)
    raise AslError("States.Runtime", f"unknown SageMaker operation {kind}")


def _copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)


_RESULT_KEY = {
    "training": "Training",
    "transform": "Transform",
    "processing": "Processing",
    "model": "Model",
    "tuning": "Tuning",
    "endpoint_config": "EndpointConfig",
}
_ARN_KEY = {
    "training": "TrainingJobArn",
    "transform": "TransformJobArn",
    "processing": "ProcessingJobArn",
    "model": "ModelArn",
    "tuning": "HyperParameterTuningJobArn",
    "endpoint_config": "EndpointConfigArn",
}


_DESCRIBE = {
    "training": ("describe_training_job", "TrainingJobName"),
    "transform": ("describe_transform_job", "TransformJobName"),
    "processing": ("describe_processing_job", "ProcessingJobName"),
    "model": ("describe_model", "ModelName"),
    "tuning": ("describe_tuning_job", "HyperParameterTuningJobName"),
    "endpoint_config": ("describe_endpoint_config", "EndpointConfigName"),
}


def _shape(operator: Any, kind: str, pattern: str, raw: dict[str, Any]) -> Any:
    """The Describe response (``.sync``) or the ARN (request-response), read again through the
    provider's hook because the operator's own result has its timestamps flattened to text."""
    method, name_key = _DESCRIBE[kind]
    name = raw[_RESULT_KEY[kind]][name_key]
    description = _json_value(getattr(operator.hook, method)(name))
    if pattern == SYNC:
        return description
    return {_ARN_KEY[kind]: description.get(_ARN_KEY[kind])}


def _error_name(exc: BaseException, call: ServiceCall) -> str | None:
    from asl_airflow.integrations.errors import client_error_code

    if client_error_code(exc):
        return "SageMaker.AmazonSageMakerException"
    text = str(exc)
    if "job failed" in text.lower() or "Error while running" in text or "Failed" in text:
        return "States.TaskFailed"
    return None


#: the provider trigger's job type for each kind of job a ``.sync`` Task waits for
_TRIGGER_JOB_TYPE = {"training": "Training", "transform": "Transform", "processing": "Processing",
                     "tuning": "tuning"}


def _existing(operator: Any, kind: str, name: str) -> dict[str, Any] | None:
    """The job's Describe response, or None when SageMaker has no job of that name."""
    from asl_airflow.integrations.errors import client_error_code

    method, _ = _DESCRIBE[kind]
    try:
        return getattr(operator.hook, method)(name)
    except Exception as exc:
        if client_error_code(exc) in ("ValidationException", "ResourceNotFound"):
            return None
        raise


def _reconnect(call: ServiceCall, operator: Any, kind: str, name: str) -> Any:
    """Wait for the job this attempt already created, on the trigger its operator defers to."""
    from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger
    from airflow.sdk.exceptions import TaskDeferred

    raise TaskDeferred(
        trigger=SageMakerTrigger(
            job_name=name, job_type=_TRIGGER_JOB_TYPE[kind], waiter_delay=operator.check_interval,
            waiter_max_attempts=getattr(operator, "max_attempts", None) or 480,
            aws_conn_id=call.aws_conn_id, region_name=call.region_name,
        ),
        method_name="execute_complete",
    )


def _entry(action: str, kind: str, patterns: frozenset[str]) -> Integration:
    def start(call: ServiceCall, context: Any) -> Any:
        operator = _operator(call, kind)
        name = (call.parameters or {}).get(_DESCRIBE[kind][1]) if isinstance(call.parameters, dict) else None
        if call.pattern == SYNC and call.journal is not None and isinstance(name, str):
            if reentered(call) and _existing(operator, kind, name) is not None:
                _reconnect(call, operator, kind, name)
            from datetime import UTC, datetime

            call.journal.set(pending=datetime.now(UTC).isoformat(), id=name)  # the name is the job's id
        return _shape(operator, kind, call.pattern, run_nested(operator, context))

    def resume(call: ServiceCall, context: Any, method_name: str, event: Any) -> Any:
        operator = _operator(call, kind)
        return _shape(operator, kind, call.pattern, getattr(operator, method_name)(context, event=event))

    return Integration("sagemaker", action, patterns, "SageMaker", start, resume, _error_name)


def _endpoint_entry(action: str, method: str) -> Integration:
    """``createEndpoint`` / ``updateEndpoint`` through the provider's hook.

    ``SageMakerEndpointOperator`` turns a create on an existing endpoint into an update; Step
    Functions fails that call instead, so the hook's single call is used, without waiting
    (Step Functions offers these actions as request-response only).
    """

    def start(call: ServiceCall, context: Any) -> Any:
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

        hook = SageMakerHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name)
        response = getattr(hook, method)(_copy(call.parameters), wait_for_completion=False)
        return {"EndpointArn": response["EndpointArn"]}

    return Integration("sagemaker", action, frozenset({REQUEST_RESPONSE}), "SageMaker", start, None, _error_name)


BOTH = frozenset({REQUEST_RESPONSE, SYNC})
CREATE_TRAINING_JOB = _entry("createTrainingJob", "training", BOTH)
CREATE_TRANSFORM_JOB = _entry("createTransformJob", "transform", BOTH)
CREATE_PROCESSING_JOB = _entry("createProcessingJob", "processing", BOTH)
CREATE_MODEL = _entry("createModel", "model", frozenset({REQUEST_RESPONSE}))
CREATE_HYPER_PARAMETER_TUNING_JOB = _entry("createHyperParameterTuningJob", "tuning", BOTH)
CREATE_ENDPOINT_CONFIG = _entry("createEndpointConfig", "endpoint_config", frozenset({REQUEST_RESPONSE}))
CREATE_ENDPOINT = _endpoint_entry("createEndpoint", "create_endpoint")
UPDATE_ENDPOINT = _endpoint_entry("updateEndpoint", "update_endpoint")

ENTRIES = (
    CREATE_TRAINING_JOB,
    CREATE_TRANSFORM_JOB,
    CREATE_PROCESSING_JOB,
    CREATE_MODEL,
    CREATE_HYPER_PARAMETER_TUNING_JOB,
    CREATE_ENDPOINT_CONFIG,
    CREATE_ENDPOINT,
    UPDATE_ENDPOINT,
)
