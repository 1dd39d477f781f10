"""What a Task's Resource means: one small table entry per service action.

``resolve(resource)`` finds the entry; ``run_call`` executes it synchronously (the local engine);
the Airflow operators call ``entry.start`` / ``entry.resume`` themselves so they can defer.
"""

from __future__ import annotations

from typing import Any

from asl_airflow.asl import errors as asl_errors
from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import lambda_, sagemaker
from asl_airflow.integrations.base import Integration, ServiceCall, parse_resource

TABLE: dict[tuple[str, str], Integration] = {
    (entry.service, entry.action): entry
    for entry in (
        lambda_.INVOKE,
        lambda_.FUNCTION_ARN,
        sagemaker.CREATE_TRAINING_JOB,
        sagemaker.CREATE_TRANSFORM_JOB,
        sagemaker.CREATE_PROCESSING_JOB,
        sagemaker.CREATE_MODEL,
    )
}


def resolve(resource: str) -> tuple[Integration, str, str, str]:
    """The entry for a Resource ARN and its ``(service, action, pattern)``; AslError if unsupported."""
    service, action, pattern = parse_resource(resource)
    entry = TABLE.get((service, action))
    if entry is None:
        raise AslError(asl_errors.RUNTIME, f"Resource {resource!r} is not a supported service integration")
    if pattern not in entry.patterns:
        raise AslError(
            asl_errors.RUNTIME,
            f"Resource {resource!r}: {service}:{action} does not support the {pattern or 'request-response'} pattern",
        )
    return entry, service, action, pattern


def supported(resource: str) -> bool:
    try:
        resolve(resource)
    except AslError:
        return False
    return True


def make_call(resource: str, parameters: Any, **kwargs: Any) -> tuple[Integration, ServiceCall]:
    entry, service, action, pattern = resolve(resource)
    return entry, ServiceCall(resource, service, action, pattern, parameters, **kwargs)


__all__ = ["TABLE", "Integration", "ServiceCall", "make_call", "resolve", "supported"]
