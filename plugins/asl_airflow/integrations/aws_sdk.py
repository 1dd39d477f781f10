"""The generic AWS SDK integration: ``arn:aws:states:::aws-sdk:<service>:<action>``.

Step Functions names an SDK service after the AWS SDK for Java v2 client (``sfn``, ``redshiftdata``,
``databasemigration``, ``cloudwatchlogs``), calls the action (camelCase) with PascalCase
parameters, and returns the response with PascalCase keys, timestamps as ISO-8601 text and
streamed bodies as text. Errors are ``<ServiceName>.<ErrorName>``, both PascalCase as the Java SDK
spells them, with the ``Exception`` suffix always present (``S3.NoSuchKeyException``,
``Sfn.ExecutionDoesNotExistException``); an error the service model does not declare becomes the
service's generic ``<ServiceName>.<ServiceName>Exception``.

The Java client name is derived from botocore's ``serviceId`` by the Java SDK's rules (split on
word boundaries, each word capitalised with the rest in lower case, a leading ``Amazon``/``AWS``
and a trailing ``Service`` dropped), so any boto3 service is reachable without a hand-kept list.
The call goes through the provider's ``AwsBaseHook(client_type=...)`` with the call's
connection and region. Request-response and ``.waitForTaskToken`` only, as on AWS.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from datetime import UTC, date, datetime
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations.base import REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN, Integration, ServiceCall

#: Step Functions SDK names whose boto3 client name is not the same word; each is still checked
#: against the naming rule before use (a shortcut, not a source of truth).
_BOTO3_HINTS = {
    "sfn": "stepfunctions",
    "databasemigration": "dms",
    "cloudwatchlogs": "logs",
    "eventbridge": "events",
    "costexplorer": "ce",
    "elasticloadbalancing": "elb",
    "elasticloadbalancingv2": "elbv2",
    "lexmodelbuilding": "lex-models",
    "lexruntime": "lex-runtime",
    "costandusagereport": "cur",
    "directory": "ds",
    "elasticsearch": "es",
    "applicationdiscovery": "discovery",
    "cognitoidentityprovider": "cognito-idp",
    "marketplaceentitlement": "marketplace-entitlement",
    "sagemakera2iruntime": "sagemaker-a2i-runtime",
    "resourcegroups": "resource-groups",
}

_LEADING = ("Amazon", "Aws")
_TRAILING = ("Service",)


# -- names ----------------------------------------------------------------------------------------


def java_words(text: str) -> list[str]:
    """Split a name into words the way the AWS SDK for Java v2 code generator does."""
    text = re.sub(r"[^A-Za-z0-9]+", " ", text)
    text = re.sub(r"([^a-z]{2,})v([0-9]+)", r"\1 v\2 ", text)  # SESv2 -> SES v2
    text = re.sub(r"([^A-Z]{2,})V([0-9]+)", r"\1 V\2 ", text)  # gatewayV2 -> gateway V2
    text = " ".join(re.split(r"(?<=[a-z])(?=[A-Z](?:[a-zA-Z]|[0-9]))", text))  # AcmeApi -> Acme Api
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)  # ACMEApi -> ACME Api
    text = re.sub(r"([0-9])([a-zA-Z])", r"\1 \2", text)  # s3ec2 -> s3 ec2
    return text.split()


def java_pascal(text: str) -> str:
    """``DynamoDB`` -> ``DynamoDb``, ``MD5OfMessageBody`` -> ``Md5OfMessageBody``, ``jobName`` -> ``JobName``."""
    return "".join(word[:1].upper() + word[1:].lower() for word in java_words(text))


def java_service_name(service_id: str) -> str:
    """The Java client name for a botocore ``serviceId``: the Step Functions error prefix.

    ``SFN`` -> ``Sfn``, ``Database Migration Service`` -> ``DatabaseMigration``,
    ``Redshift Data`` -> ``RedshiftData``, ``AWSHealth`` -> ``Health``.
    """
    words = [word[:1].upper() + word[1:].lower() for word in java_words(service_id)]
    while len(words) > 1 and words[0] in _LEADING:
        words.pop(0)
    while len(words) > 1 and words[-1] in _TRAILING:
        words.pop()
    return "".join(words)


def java_exception_name(shape: str) -> str:
    """The Java exception class for an error shape: ``NoSuchKey`` -> ``NoSuchKeyException``,
    ``DBInstanceNotFoundFault`` -> ``DbInstanceNotFoundException``."""
    words = java_words(shape)
    if words and words[-1] == "Fault":
        words[-1] = "Exception"
    name = "".join(word[:1].upper() + word[1:].lower() for word in words)
    return name if name.endswith("Exception") else f"{name}Exception"


def sdk_error_name(prefix: str, exc: BaseException) -> str | None:
    """``<Prefix>.<Exception>`` for a botocore error, as the aws-sdk integration names it."""
    from asl_airflow.integrations.errors import client_error_code

    code = client_error_code(exc)
    if code is None:
        if type(exc).__name__ in ("ParamValidationError", "NoCredentialsError", "EndpointConnectionError",
                                  "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"):
            return f"{prefix}.SdkClientException"
        return None
    shape = type(exc).__name__
    if shape == "ClientError":  # not declared by the service model: the service's generic exception
        return f"{prefix}.{prefix}Exception"
    return f"{prefix}.{java_exception_name(shape)}"


def sdk_error_cause(prefix: str, exc: BaseException) -> str:
    """The Java SDK v2 message: ``<message> (Service: S3, Status Code: 404, Request ID: ...)``."""
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    meta = response.get("ResponseMetadata", {})
    details = [f"Service: {prefix}", f"Status Code: {meta.get('HTTPStatusCode', '')}",
               f"Request ID: {meta.get('RequestId', '')}"]
    if meta.get("HostId"):
        details.append(f"Extended Request ID: {meta['HostId']}")
    message = error.get("Message") or error.get("Code") or str(exc)
    return f"{message} ({', '.join(details)})"


# -- the SDK service and operation ----------------------------------------------------------------


def _service_id(boto3_name: str) -> str | None:
    import botocore.session

    try:
        model = botocore.session.get_session().get_service_model(boto3_name)
    except Exception:  # an unknown name: not this one
        return None
    return str(model.metadata.get("serviceId") or "")


@functools.cache
def boto3_service(sdk_name: str) -> tuple[str, str]:
    """``(boto3 client name, Java service name)`` for a Step Functions SDK service name.

    Tries the likely names first (the same word, a hyphenated boto3 name, a known alias), each
    checked against the naming rule; only an unusual name pays for reading every service model.
    """
    import botocore.session

    wanted = sdk_name.lower()
    available = botocore.session.get_session().get_available_services()
    candidates = [_BOTO3_HINTS.get(wanted), wanted] + [n for n in available if n.replace("-", "") == wanted]
    for name in dict.fromkeys(c for c in candidates if c and c in available):
        service_id = _service_id(name)
        if service_id and java_service_name(service_id).lower() == wanted:
            return name, java_service_name(service_id)
    for name in available:
        service_id = _service_id(name)
        if service_id and java_service_name(service_id).lower() == wanted:
            return name, java_service_name(service_id)
    raise AslError("States.Runtime", f"aws-sdk:{sdk_name} is not an AWS SDK service Step Functions can call")


def operation_name(service_model: Any, action: str) -> str:
    """The API operation for a camelCase Step Functions action (``startCrawler`` -> ``StartCrawler``)."""
    names = {name.lower(): name for name in service_model.operation_names}
    found = names.get(action.lower())
    if found is None:
        raise AslError("States.Runtime", f"{service_model.service_name} has no API action {action!r}")
    return found


# -- parameters and results -----------------------------------------------------------------------


def to_request(value: Any, shape: Any) -> Any:
    """PascalCase Step Functions parameters -> the member names of the API's input shape.

    Member names match case-insensitively (``JobName`` fills Batch's ``jobName``); a JSON value
    given to a string member is sent as JSON text, as Step Functions does (``sfn:startExecution``
    with an object ``Input``).
    """
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = {name.lower(): (name, member) for name, member in shape.members.items()}
        out = {}
        for key, item in value.items():
            name, member = members.get(key.lower(), (key, None))
            out[name] = to_request(item, member)
        return out
    if kind == "list" and isinstance(value, list):
        return [to_request(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: to_request(item, shape.value) for key, item in value.items()}
    if kind == "string" and value is not None and not isinstance(value, str):
        return json.dumps(value, separators=(",", ":"))
    return value


def iso_instant(value: datetime | date) -> str:
    """A timestamp as Java's ``Instant.toString()`` prints it (UTC, ``Z``, fraction only when set)."""
    if not isinstance(value, datetime):
        return value.isoformat()
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        fraction = f"{value.microsecond:06d}"
        text += "." + (fraction[:3] if fraction.endswith("000") else fraction)
    return text + "Z"


def _plain(value: Any) -> Any:
    """Any botocore value as JSON: streams read as text, bytes as base64, timestamps ISO-8601."""
    if isinstance(value, datetime | date):
        return iso_instant(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "read") and callable(value.read):
        raw = value.read()
        return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def from_response(value: Any, shape: Any) -> Any:
    """A botocore response as Step Functions returns it: structure member names in PascalCase
    (map keys, which are data, untouched), JSON-serialisable values, no ResponseMetadata."""
    if shape is None:
        return _plain(value)
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "ResponseMetadata":
                continue
            member = shape.members.get(key)
            out[java_pascal(key) if member is not None else key] = from_response(item, member)
        return out
    if kind == "list" and isinstance(value, list):
        return [from_response(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: from_response(item, shape.value) for key, item in value.items()}
    if kind == "blob" and hasattr(value, "read"):
        raw = value.read()
        return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return _plain(value)


# -- the entry ------------------------------------------------------------------------------------


def _sdk_service(call: ServiceCall) -> str:
    return call.service.split(":", 1)[1] if ":" in call.service else call.service


def start(call: ServiceCall, context: Any) -> Any:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    boto3_name, prefix = boto3_service(_sdk_service(call))
    client = AwsBaseHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name,
                         client_type=boto3_name).get_conn()
    operation = client.meta.service_model.operation_model(operation_name(client.meta.service_model, call.action))
    from botocore import xform_name

    parameters = call.parameters if call.parameters is not None else {}
    if not isinstance(parameters, dict):
        raise AslError("States.Runtime", f"{call.resource}: Parameters must be a JSON object")
    request = to_request(parameters, operation.input_shape)
    try:
        response = getattr(client, xform_name(operation.name))(**request)
    except Exception as exc:
        name = sdk_error_name(prefix, exc)
        if name is None:
            raise
        cause = sdk_error_cause(prefix, exc) if getattr(exc, "response", None) else str(exc)
        raise AslError(name, cause) from exc
    return from_response(response, operation.output_shape)


def error_name(exc: BaseException, call: ServiceCall) -> str | None:
    try:
        _, prefix = boto3_service(_sdk_service(call))
    except AslError:
        return None
    return sdk_error_name(prefix, exc)


AWS_SDK = Integration(
    "aws-sdk", "*", frozenset({REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN}), "States", start, error_name=error_name,
)

ENTRIES = (AWS_SDK,)
