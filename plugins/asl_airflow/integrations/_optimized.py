"""Shared shapes of Step Functions' optimized integrations (``sns:publish``, ``athena:...``, ...).

Not an entry module (the leading underscore keeps it out of the table). The optimized
integrations answer as the AWS SDK for Java v1 does: timestamps as epoch milliseconds, request-
response calls of SNS/SQS/Step Functions with ``SdkHttpMetadata``/``SdkResponseMetadata``, and
errors named ``<Prefix>.<Exception>`` with the v1 message format as the cause.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

from asl_airflow.asl.errors import AslError

#: seconds between two polls of a running job, in the worker (local engine) or the triggerer
POLL_SECONDS = 5
#: a .sync Task has no limit of its own (the state's TimeoutSeconds bounds it): poll up to a year
MAX_POLLS = 366 * 24 * 3600 // POLL_SECONDS

_STRIP = ("ResponseMetadata",)


def epoch_ms(value: Any) -> Any:
    """A provider response as JSON with timestamps in epoch milliseconds, no ResponseMetadata."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: epoch_ms(v) for k, v in value.items() if k not in _STRIP}
    if isinstance(value, list):
        return [epoch_ms(v) for v in value]
    return value


def sdk_metadata(response: dict[str, Any]) -> dict[str, Any]:
    """``SdkHttpMetadata``/``SdkResponseMetadata`` as the optimized SNS, SQS and Step Functions
    integrations add them (botocore keeps the headers lower-cased)."""
    meta = response.get("ResponseMetadata", {})
    headers = dict(meta.get("HTTPHeaders", {}))
    return {
        "SdkHttpMetadata": {
            "AllHttpHeaders": {key: [value] for key, value in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": meta.get("HTTPStatusCode"),
        },
        "SdkResponseMetadata": {"RequestId": meta.get("RequestId", "")},
    }


def v1_error(exc: BaseException, prefix: str, service: str) -> AslError | None:
    """``<prefix>.<Exception>`` with the Java v1 cause, for a botocore ClientError; else None.

    A modeled error keeps its class name (``QueueDoesNotExist`` -> ``QueueDoesNotExistException``);
    otherwise the error code is the name (``NotFound`` -> ``NotFoundException``).
    """
    from asl_airflow.integrations.aws_sdk import java_exception_name
    from asl_airflow.integrations.errors import client_error_code

    code = client_error_code(exc)
    if code is None:
        return None
    shape = type(exc).__name__
    name = java_exception_name(shape) if shape != "ClientError" else (
        code if code.endswith("Exception") else f"{code}Exception")
    response = getattr(exc, "response", {}) or {}
    meta = response.get("ResponseMetadata", {})
    message = response.get("Error", {}).get("Message") or code
    details = [f"Service: {service}", f"Status Code: {meta.get('HTTPStatusCode', '')}", f"Error Code: {code}",
               f"Request ID: {meta.get('RequestId', '')}", "Proxy: null"]
    if meta.get("HostId"):
        details.append(f"Extended Request ID: {meta['HostId']}")
    return AslError(f"{prefix}.{name}", f"{message} ({'; '.join(details)})")


def refused_request(exc: BaseException, prefix: str, service: str, code: str,
                    name: str | None = None) -> AslError | None:
    """A request botocore refused before sending it (``ParamValidationError``: a member missing or of
    the wrong type) as the 400 the service answers Step Functions' SDK, which sends it unchecked:
    ``<prefix>.<name>`` (``name`` defaults to the error ``code``) with the Java v1 cause; else None."""
    if type(exc).__name__ != "ParamValidationError":
        return None
    return AslError(f"{prefix}.{name or code}", f"{exc} (Service: {service}; Status Code: 400; "
                    f"Error Code: {code}; Request ID: null; Proxy: null)")


@contextlib.contextmanager
def named_errors(to_error: Callable[[BaseException], AslError | None]) -> Iterator[None]:
    """Around a service call: an exception ``to_error`` names is raised as that Step Functions error
    (the name Retry and Catch match); ASL errors and exceptions it does not name pass unchanged."""
    try:
        yield
    except AslError:
        raise
    except Exception as exc:
        error = to_error(exc)
        if error is not None:
            raise error from exc
        raise


def raise_v1(exc: BaseException, prefix: str, service: str) -> None:
    """Re-raise a service error under its Step Functions name (other exceptions pass unchanged)."""
    error = v1_error(exc, prefix, service)
    if error is not None:
        raise error from exc


def only(parameters: Any, allowed: frozenset[str], resource: str) -> dict[str, Any]:
    """The parameters an optimized integration passes on; Step Functions ignores the others."""
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise AslError("States.Runtime", f"{resource}: Parameters must be a JSON object")
    return {key: value for key, value in parameters.items() if key in allowed}


def event_id(event: Any, key: str) -> str | None:
    """The job id a provider trigger reported (present on success and on failure events)."""
    return event.get(key) if isinstance(event, dict) else None


def declared_or_generic(exc: BaseException, prefix: str, service: str, generic: str) -> AslError | None:
    """The Java v1 error for a botocore ClientError where only the errors a service's model declares
    have their own class: a declared one keeps its name (``DynamoDB.ConditionalCheckFailedException``),
    any other code (``ValidationException``, ``AccessDeniedException``) is the service's generic
    ``<prefix>.<generic>`` (``DynamoDB.AmazonDynamoDBException``), with the v1 cause either way."""
    error = v1_error(exc, prefix, service)
    if error is None:
        return None
    if type(exc).__name__ == "ClientError":  # botocore found no modeled class for the code
        return AslError(f"{prefix}.{generic}", error.cause)
    return error
