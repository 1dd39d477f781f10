"""Amazon Bedrock: ``bedrock:invokeModel`` (request-response) and ``bedrock:createModelCustomizationJob``
(request-response and ``.sync``), as Step Functions' optimized Bedrock integration serves them.

``invokeModel`` is the runtime API's InvokeModel through the provider's ``BedrockRuntimeHook``
client, with the fields Step Functions adds to the request:

- ``Body``: the model's input. A JSON value is sent as its compact JSON text, a string as it is
  (Step Functions does not validate it; the model does).
- ``Input.S3Uri``: the body is read from that S3 object instead (``Body`` and ``Input`` exclude each
  other); without ``ContentType`` the object's content type is sent.
- ``Output.S3Uri``: the model's answer is written to that S3 object, and the result's ``Body`` is a
  reference to it, ``{"S3Uri": ...}``, instead of the answer.

The result is ``{"Body": <the answer, parsed when it is JSON>, "ContentType": ...}``. The other
InvokeModel members (``ModelId``, ``ContentType``, ``Accept``, ``Trace``, ``GuardrailIdentifier``,
``GuardrailVersion``, ``PerformanceConfigLatency``, ...) pass through by botocore's model.

``createModelCustomizationJob`` is CreateModelCustomizationJob through ``BedrockHook``'s client,
Parameters in Step Functions' PascalCase renamed by botocore's model (``TrainingDataConfig.S3Uri``
-> ``trainingDataConfig.s3Uri``; ``HyperParameters`` keys stay as written). Request-response
answers ``{"JobArn"}``. ``.sync`` waits the provider's way, deferred on
``BedrockCustomizeModelCompletedTrigger`` (the local engine: the provider's
``model_customization_job_complete`` waiter), and answers GetModelCustomizationJob in PascalCase,
times in epoch milliseconds; a job that ends Failed, Stopping or Stopped is ``States.TaskFailed``
with that description as the Cause.

A ``.sync`` job is created at most once per ASL attempt: the attempt's ``clientRequestToken`` (the
Parameters' own, else one derived from the attempt) makes Bedrock ignore a repeated create, and a
re-run after a worker crash that finds only the pending mark looks the job up by its name and takes
it when it carries this attempt's token.

Service errors are ``Bedrock.<Exception>`` as the AWS SDK for Java names Bedrock's modelled errors
(``Bedrock.ValidationException``, ``Bedrock.ResourceNotFoundException``,
``Bedrock.ThrottlingException``, ``Bedrock.AccessDeniedException``), with the Java v1 cause.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import _shapes
from asl_airflow.integrations._optimized import (
    MAX_POLLS,
    POLL_SECONDS,
    named_errors,
    refused_request,
    v1_error,
)
from asl_airflow.integrations.base import REQUEST_RESPONSE, SYNC, Integration, ServiceCall, submit_once

_PREFIX = "Bedrock"
_RUNTIME_SERVICE, _SERVICE = "AmazonBedrockRuntime", "AmazonBedrock"
#: InvokeModel fields of Step Functions' own, handled here rather than sent to the API
_SFN_FIELDS = ("Body", "Input", "Output")
#: job states after which a customization job will not complete
_ENDED_BADLY = ("Failed", "Stopping", "Stopped")


def _object(call: ServiceCall) -> dict[str, Any]:
    parameters = call.parameters if call.parameters is not None else {}
    if not isinstance(parameters, dict):
        raise AslError("States.Runtime", f"{call.resource}: Parameters must be a JSON object")
    return parameters


def bedrock_error(exc: BaseException, service: str) -> AslError | None:
    """The Step Functions error for an exception of a Bedrock call, else None."""
    return v1_error(exc, _PREFIX, service) or refused_request(exc, _PREFIX, service, "ValidationException")


# -- invokeModel --------------------------------------------------------------------------------


def _s3_location(call: ServiceCall, field: str, value: Any) -> tuple[str, str]:
    uri = value.get("S3Uri") if isinstance(value, dict) else None
    if not isinstance(uri, str) or not uri.startswith("s3://") or "/" not in uri[5:]:
        raise AslError("States.Runtime", f"{call.resource}: {field}.S3Uri must be an s3://bucket/key URI, got {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _s3(call: ServiceCall) -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=call.aws_conn_id, region_name=call.region_name).get_conn()


def _s3_error(exc: BaseException) -> AslError | None:
    """An S3 failure reading Input or writing Output, named as the AWS SDK names S3's errors."""
    return v1_error(exc, "S3", "Amazon S3")


def _request_body(call: ServiceCall, parameters: dict[str, Any]) -> tuple[bytes | None, str | None]:
    """The body to send and, when it came from S3, that object's content type."""
    if "Body" in parameters and "Input" in parameters:
        raise AslError("States.Runtime", f"{call.resource}: specify either Body or Input (Input.S3Uri), not both")
    if "Input" in parameters:
        bucket, key = _s3_location(call, "Input", parameters["Input"])
        with named_errors(_s3_error):
            obj = _s3(call).get_object(Bucket=bucket, Key=key)
        return obj["Body"].read(), obj.get("ContentType")
    if "Body" not in parameters:
        return None, None  # the API refuses a missing body with its own message
    body = parameters["Body"]
    if isinstance(body, str):
        return body.encode("utf-8"), None
    from asl_airflow.asl import strictjson

    return strictjson.dumps(body).encode("utf-8"), None


def answer_body(raw: bytes, content_type: str | None) -> Any:
    """The model's answer as the Task's ``Body``: the JSON value when it is JSON (Bedrock's text and
    embedding models answer JSON), else the text; bytes that are not UTF-8 as base64 text."""
    from asl_airflow.asl import strictjson

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        import base64

        return base64.b64encode(raw).decode("ascii")
    if "json" in (content_type or "application/json").lower():
        try:
            return strictjson.loads(text)
        except strictjson.JsonError:
            return text
    return text


def invoke_request(call: ServiceCall) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The InvokeModel request for the Task's Parameters, and the ``Output`` location (or None)."""
    parameters = _object(call)
    body, source_type = _request_body(call, parameters)
    request = _shapes.known_request("bedrock-runtime", "InvokeModel", parameters, call.resource, skip=_SFN_FIELDS)
    if body is not None:
        request["body"] = body
    if source_type and "contentType" not in request:
        request["contentType"] = source_type
    output = parameters.get("Output")
    if output is not None:
        _s3_location(call, "Output", output)
    return request, output


def _invoke(call: ServiceCall, context: Any) -> Any:
    from airflow.providers.amazon.aws.hooks.bedrock import BedrockRuntimeHook

    request, output = invoke_request(call)
    client = BedrockRuntimeHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name).conn
    with named_errors(partial(bedrock_error, service=_RUNTIME_SERVICE)):
        response = client.invoke_model(**request)
        raw = response["body"].read()
    content_type = response.get("contentType")
    if output is None:
        return {"Body": answer_body(raw, content_type), "ContentType": content_type}
    bucket, key = _s3_location(call, "Output", output)
    typed = {"ContentType": content_type} if content_type else {}
    with named_errors(_s3_error):
        _s3(call).put_object(Bucket=bucket, Key=key, Body=raw, **typed)
    return {"Body": {"S3Uri": output["S3Uri"]}, "ContentType": content_type}


def _invoke_error(exc: BaseException, call: ServiceCall) -> str | None:
    error = bedrock_error(exc, _RUNTIME_SERVICE)
    return error.error if error else None


# -- createModelCustomizationJob ----------------------------------------------------------------


def _hook(call: ServiceCall) -> Any:
    from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook

    return BedrockHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name)


def customization_request(call: ServiceCall) -> dict[str, Any]:
    """The CreateModelCustomizationJob request; a ``.sync`` attempt carries its own client token."""
    request = _shapes.known_request("bedrock", "CreateModelCustomizationJob", call.parameters, call.resource)
    if call.pattern == SYNC and call.attempt_token and not request.get("clientRequestToken"):
        request["clientRequestToken"] = call.attempt_token
    return request


def _described(hook: Any, job_name: str) -> dict[str, Any]:
    return _shapes.response("bedrock", "GetModelCustomizationJob",
                            hook.conn.get_model_customization_job(jobIdentifier=job_name))


def _finished(hook: Any, job_name: str) -> dict[str, Any]:
    job = _described(hook, job_name)
    if job.get("Status") != "Completed":
        raise AslError("States.TaskFailed", json.dumps(job, separators=(",", ":")))
    return job


def _create(hook: Any, request: dict[str, Any]) -> str:
    """Create the job; its name is what the trigger and GetModelCustomizationJob know it by."""
    hook.conn.create_model_customization_job(**request)
    return request["jobName"]


def _find_job(hook: Any, request: dict[str, Any]) -> str | None:
    """The job this attempt created before its worker died: the job of that name, if it carries
    this attempt's client token (a job of the same name created by someone else does not)."""
    from asl_airflow.integrations.errors import client_error_code

    try:
        job = hook.conn.get_model_customization_job(jobIdentifier=request["jobName"])
    except Exception as exc:
        if client_error_code(exc) in ("ResourceNotFoundException", "ValidationException"):
            return None
        raise
    return request["jobName"] if job.get("clientRequestToken") == request.get("clientRequestToken") else None


def _customize(call: ServiceCall, context: Any) -> Any:
    hook = _hook(call)
    request = customization_request(call)
    with named_errors(partial(bedrock_error, service=_SERVICE)):
        if call.pattern != SYNC:
            return _shapes.response("bedrock", "CreateModelCustomizationJob",
                                    hook.conn.create_model_customization_job(**request))
        if not isinstance(request.get("jobName"), str):
            raise AslError("States.Runtime", f"{call.resource} needs Parameters.JobName")
        job_name = submit_once(
            call,
            submit=lambda: _create(hook, request),
            find=lambda record: _find_job(hook, request),
        )
    if call.deferrable:
        from airflow.providers.amazon.aws.triggers.bedrock import BedrockCustomizeModelCompletedTrigger
        from airflow.sdk.exceptions import TaskDeferred

        raise TaskDeferred(
            trigger=BedrockCustomizeModelCompletedTrigger(
                job_name=job_name, waiter_delay=POLL_SECONDS, waiter_max_attempts=MAX_POLLS,
                aws_conn_id=call.aws_conn_id, region_name=call.region_name,
            ),
            method_name="execute_complete",
        )
    from botocore.exceptions import WaiterError

    try:
        hook.get_waiter("model_customization_job_complete").wait(
            jobIdentifier=job_name, WaiterConfig={"Delay": POLL_SECONDS, "MaxAttempts": MAX_POLLS})
    except WaiterError:  # the job failed or was stopped: its description says how, and is the cause
        pass
    return _finished(hook, job_name)


def _resume_customize(call: ServiceCall, context: Any, method_name: str, event: Any) -> Any:
    """Back from the trigger: the job is described again, so the Task reports the job's own state
    (a trigger that gave up on a job still running fails it with the trigger's message)."""
    job_name = event.get("job_name") if isinstance(event, dict) else None
    if not job_name:
        raise AslError("States.TaskFailed", f"the Bedrock trigger reported no job: {event!r}")
    hook = _hook(call)
    with named_errors(partial(bedrock_error, service=_SERVICE)):
        job = _described(hook, job_name)
    if job.get("Status") == "InProgress":
        raise AslError("States.TaskFailed", f"Bedrock model customization job {job_name} did not finish: {event!r}")
    return _finished(hook, job_name)


def _customize_error(exc: BaseException, call: ServiceCall) -> str | None:
    error = bedrock_error(exc, _SERVICE)
    return error.error if error else None


INVOKE_MODEL = Integration(
    "bedrock", "invokeModel", frozenset({REQUEST_RESPONSE}), _PREFIX, _invoke, error_name=_invoke_error,
)
CREATE_MODEL_CUSTOMIZATION_JOB = Integration(
    "bedrock", "createModelCustomizationJob", frozenset({REQUEST_RESPONSE, SYNC}), _PREFIX, _customize,
    _resume_customize, _customize_error,
)

ENTRIES = (INVOKE_MODEL, CREATE_MODEL_CUSTOMIZATION_JOB)
