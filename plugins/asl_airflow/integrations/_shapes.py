"""Step Functions spelling of AWS requests and responses, driven by botocore's service model.

Step Functions takes every optimised-integration parameter in PascalCase and returns responses in
PascalCase, even for services whose API is camelCase (Batch, EMR Serverless). Renaming by the
model, not by a rule on strings, keeps user keys intact: the keys of a map (Batch ``Parameters``,
``Tags``) are data, only structure members are renamed. Not an integration module (the leading
underscore keeps the table from collecting it).
"""

from __future__ import annotations

from collections.abc import Collection
from functools import lru_cache
from typing import Any

from asl_airflow.asl.errors import AslError


@lru_cache(maxsize=16)
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def request(service: str, operation: str, parameters: Any) -> dict[str, Any]:
    """The API request for Step Functions-style ``parameters`` (member names matched case-insensitively)."""
    shape = _service_model(service).operation_model(operation).input_shape
    return _to_api(parameters or {}, shape)


@lru_cache(maxsize=32)
def _members(service: str, operation: str) -> frozenset[str]:
    shape = _service_model(service).operation_model(operation).input_shape
    return frozenset(name.lower() for name in shape.members)


def known_request(service: str, operation: str, parameters: Any, resource: str,
                  skip: Collection[str] = ()) -> dict[str, Any]:
    """The API request for a Task's Parameters (a JSON object, else ``States.Runtime``): the members
    the operation knows, renamed by the model; Step Functions ignores the others, and ``skip`` (fields
    it handles itself)."""
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise AslError("States.Runtime", f"{resource}: Parameters must be a JSON object")
    members = _members(service, operation)
    return request(service, operation,
                   {key: value for key, value in parameters.items() if key not in skip and key.lower() in members})


def _to_api(value: Any, shape: Any) -> Any:
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        by_lower = {name.lower(): name for name in shape.members}
        out = {}
        for key, item in value.items():
            name = by_lower.get(key.lower(), key)
            out[name] = _to_api(item, shape.members.get(name))
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [_to_api(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: _to_api(item, shape.value) for key, item in value.items()}
    return value


def response(service: str, operation: str, value: Any, shape_name: str | None = None) -> Any:
    """An API response (or one of its structures, by ``shape_name``) as Step Functions returns it:
    structure members capitalised, timestamps as epoch milliseconds, ``ResponseMetadata`` dropped."""
    model = _service_model(service)
    shape = model.shape_for(shape_name) if shape_name else model.operation_model(operation).output_shape
    return _to_sfn(value, shape)


def _to_sfn(value: Any, shape: Any) -> Any:
    from datetime import datetime

    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        if shape is not None and shape.type_name == "map":
            return {key: _to_sfn(item, shape.value) for key, item in value.items()}
        members = shape.members if shape is not None and shape.type_name == "structure" else {}
        return {
            key[:1].upper() + key[1:]: _to_sfn(item, members.get(key))
            for key, item in value.items()
            if key != "ResponseMetadata"
        }
    if isinstance(value, list):
        member = shape.member if shape is not None and shape.type_name == "list" else None
        return [_to_sfn(item, member) for item in value]
    return value


def sdk_metadata(raw: dict[str, Any]) -> dict[str, Any]:
    """``SdkHttpMetadata`` / ``SdkResponseMetadata``, which Step Functions adds to request-response outputs."""
    meta = raw.get("ResponseMetadata", {})
    return {
        "SdkHttpMetadata": {
            "HttpHeaders": meta.get("HTTPHeaders", {}),
            "HttpStatusCode": meta.get("HTTPStatusCode"),
        },
        "SdkResponseMetadata": {"RequestId": meta.get("RequestId", "")},
    }


def chained_client_error(exc: BaseException) -> BaseException | None:
    """The botocore ClientError behind an exception the provider re-raised (``raise AirflowException(e)``
    keeps the original only as the implicit context), so its error code still names the ASL error."""
    from asl_airflow.integrations.errors import client_error_code

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if client_error_code(current):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
