"""Turning exceptions from boto3 and the Amazon provider into Step Functions error names.

Retry and Catch match names, so this mapping decides which retrier fires; it runs before any
matching, in both engines.
"""

from __future__ import annotations

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
    if name in ("NoCredentialsError", "EndpointConnectionError", "ConnectionClosedError", "ConnectTimeoutError"):
        prefix = integration.error_prefix if integration else "States"
        return AslError(f"{prefix}.SdkClientException", str(exc))
    return AslError(asl_errors.TASK_FAILED, f"{name}: {exc}")
