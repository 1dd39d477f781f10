"""Turning exceptions from boto3 and the Amazon provider into Step Functions error names.

Retry and Catch match names, so this mapping decides which retrier fires; it runs before any
matching, in both engines.
"""

from __future__ import annotations

import re

from asl_airflow.asl import errors as asl_errors
from asl_airflow.asl.errors import AslError
from asl_airflow.integrations.base import Integration, ServiceCall


def client_error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError, without importing botocore."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def to_asl_error(exc: BaseException, integration: Integration | None, call: ServiceCall | None) -> AslError:
    """An ASL error for any exception a service call raised."""
    if isinstance(exc, AslError):
        return exc
    if integration is not None and integration.error_name is not None and call is not None:
        name = integration.error_name(exc, call)
        if name:
            return AslError(name, str(exc))
    name = type(exc).__name__
    if name in ("AirflowTaskTimeout", "TaskDeferralTimeout", "TimeoutError"):
        return AslError(asl_errors.TIMEOUT, str(exc) or "The task timed out")
    code = client_error_code(exc)
    if code and integration is not None:
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
            return AslError(asl_errors.PERMISSIONS, str(exc))
        suffix = code if code.endswith("Exception") else f"{code}Exception"
        return AslError(f"{integration.error_prefix}.{suffix}", str(exc))
    if name in CLIENT_SIDE:
        prefix = integration.error_prefix if integration else "States"
        return AslError(f"{prefix}.SdkClientException", str(exc))
    return AslError(asl_errors.TASK_FAILED, f"{name}: {exc}")


#: botocore's client-side failures (no answer from AWS): the AWS SDK for Java, which Step Functions
#: uses, raises ``SdkClientException`` for these, so the Task fails with ``<Service>.SdkClientException``
CLIENT_SIDE = frozenset({
    "NoCredentialsError", "PartialCredentialsError", "EndpointConnectionError", "ConnectionClosedError",
    "ConnectTimeoutError", "ReadTimeoutError", "ProxyConnectionError", "SSLError", "HTTPClientError",
    "NoRegionError", "ClientConnectorError", "ServerDisconnectedError",
})
_RAISED = re.compile(r"^(?P<cls>[A-Za-z_][\w.]*?(?:Error|Exception|Exit|Interrupt|Warning))(?::\s?(?P<msg>.*))?$",
                     re.DOTALL)
_CLIENT_ERROR = re.compile(r"An error occurred \((?P<code>[\w.]+)\)")


def trigger_failure_error(traceback: object, integration: Integration | None, fallback: str) -> AslError:
    """The ASL error of a trigger that raised in the triggerer instead of reporting an event.

    Airflow hands the task only the formatted traceback (``next_kwargs["traceback"]``); its last
    exception line names the class and message, which are mapped as :func:`to_asl_error` maps a
    live exception: client-side failures are ``<Service>.SdkClientException``, an AWS error code
    is ``<Service>.<Code>Exception`` (``States.Permissions`` for access denied), anything else is
    ``States.TaskFailed`` with the trigger's message as the Cause.
    """
    lines = traceback if isinstance(traceback, list) else [traceback] if isinstance(traceback, str) else []
    text = "".join(str(line) for line in lines).rstrip()
    raised = None
    for block in reversed(re.split(r"\n(?=\S)", text)):  # the last unindented "pkg.Class: message"
        raised = _RAISED.match(block.strip())
        if raised:
            break
    if raised is None:
        return AslError(asl_errors.TASK_FAILED, f"Trigger failure: {fallback}")
    name = raised["cls"].rsplit(".", 1)[-1]
    message = (raised["msg"] or name).strip()
    prefix = integration.error_prefix if integration else "States"
    if name in CLIENT_SIDE:
        return AslError(f"{prefix}.SdkClientException", message)
    if name in ("TimeoutError", "AirflowTaskTimeout"):
        return AslError(asl_errors.TIMEOUT, message)
    code = _CLIENT_ERROR.search(message)
    if code and integration is not None:
        code_name = code["code"]
        if code_name in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
            return AslError(asl_errors.PERMISSIONS, message)
        suffix = code_name if code_name.endswith("Exception") else f"{code_name}Exception"
        return AslError(f"{prefix}.{suffix}", message)
    return AslError(asl_errors.TASK_FAILED, f"{name}: {message}")
