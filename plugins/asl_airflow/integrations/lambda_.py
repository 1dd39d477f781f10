"""AWS Lambda: ``arn:aws:states:::lambda:invoke`` and the bare function ARN form.

Uses the provider's ``LambdaHook``: ``LambdaInvokeFunctionOperator`` returns only the payload text
and turns a function error into a ValueError, while Step Functions returns ``StatusCode``,
``ExecutedVersion`` and the parsed ``Payload`` and names the error after the function's
``errorType``. Both are kept here.
"""

from __future__ import annotations

import json
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations.base import REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN, Integration, ServiceCall


def _hook(call: ServiceCall) -> Any:
    from airflow.providers.amazon.aws.hooks.lambda_function import LambdaHook

    return LambdaHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name)


def _decode(raw: bytes) -> Any:
    text = raw.decode("utf-8") if raw else ""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _invoke(call: ServiceCall, function_name: str, payload: Any, options: dict[str, Any]) -> tuple[dict, Any]:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    response = _hook(call).invoke_lambda(
        function_name=function_name,
        invocation_type=options.get("InvocationType"),
        log_type=options.get("LogType"),
        client_context=options.get("ClientContext"),
        payload=body,
        qualifier=options.get("Qualifier"),
    )
    stream = response.get("Payload")
    result = _decode(stream.read()) if stream is not None else None
    if response.get("FunctionError"):
        # Step Functions: Error is the function's errorType, Cause the payload it returned
        error_type = result.get("errorType") if isinstance(result, dict) else None
        cause = result if isinstance(result, str) else json.dumps(result)
        raise AslError(error_type or "Lambda.Unknown", cause)
    return response, result


def start_invoke(call: ServiceCall, context: Any) -> Any:
    params = dict(call.parameters or {})
    if "FunctionName" not in params:
        raise AslError("States.Runtime", "lambda:invoke needs Parameters.FunctionName")
    response, result = _invoke(call, params["FunctionName"], params.get("Payload", {}), params)
    meta = response.get("ResponseMetadata", {})
    return {
        "ExecutedVersion": response.get("ExecutedVersion", "$LATEST"),
        "Payload": result,
        "SdkHttpMetadata": {
            "HttpHeaders": meta.get("HTTPHeaders", {}),
            "HttpStatusCode": meta.get("HTTPStatusCode", response.get("StatusCode")),
        },
        "SdkResponseMetadata": {"RequestId": meta.get("RequestId", "")},
        "StatusCode": response.get("StatusCode"),
    }


def start_function_arn(call: ServiceCall, context: Any) -> Any:
    _, result = _invoke(call, call.resource, call.parameters, {})
    return result


def lambda_error_name(exc: BaseException, call: ServiceCall) -> str | None:
    from asl_airflow.integrations.errors import client_error_code

    code = client_error_code(exc)
    if code is None:
        return None
    status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if status >= 500 or code in ("ServiceException", "InternalFailure"):
        return "Lambda.ServiceException"
    return f"Lambda.{code if code.endswith('Exception') else code + 'Exception'}"


INVOKE = Integration(
    "lambda", "invoke", frozenset({REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN}), "Lambda", start_invoke,
    error_name=lambda_error_name,
)
FUNCTION_ARN = Integration(
    "lambda", "arn", frozenset({REQUEST_RESPONSE}), "Lambda", start_function_arn, error_name=lambda_error_name
)

ENTRIES = (INVOKE, FUNCTION_ARN)
