"""Amazon DynamoDB: ``arn:aws:states:::dynamodb:getItem``, ``putItem``, ``updateItem``, ``deleteItem``
(request-response only, as on AWS: DynamoDB has no ``.sync`` or ``.waitForTaskToken``).

Step Functions passes the Parameters to the DynamoDB API as they are written (PascalCase, typed
attribute values such as ``{"id": {"S": "1"}}``) and answers with the API response in the same
low-level form (``{"Item": {"id": {"S": "1"}}}``, numbers as ``{"N": "1"}`` text) plus
``SdkHttpMetadata``/``SdkResponseMetadata``, as recorded against AWS. So the call needs DynamoDB's
low-level client, which the provider's ``DynamoDBHook`` cannot give: its ``get_item``/``put_item``
and even its ``client`` (the boto3 *resource*'s client) go through boto3's high-level DynamoDB
layer, which re-types every value (``{"S": "1"}`` would be stored as a map). The call therefore
uses the provider's ``AwsBaseHook(client_type="dynamodb")``, the same connection handling the hook
is built on. Binary attributes (``B``, ``BS``) travel as base64 text both ways, as JSON carries them.

Errors are named as the AWS SDK for Java v1 names them: an error DynamoDB's model declares keeps its
class (``DynamoDB.ConditionalCheckFailedException``, ``DynamoDB.ResourceNotFoundException``,
``DynamoDB.ProvisionedThroughputExceededException``, ``DynamoDB.TransactionConflictException``);
any other (``ValidationException``, ``AccessDeniedException``, ...) is the service's generic
``DynamoDB.AmazonDynamoDBException``. The cause is the v1 message,
``<message> (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: <code>; Request ID: <id>; Proxy: null)``.
Parameters the API does not take are dropped, as the other optimized entries do.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations.base import REQUEST_RESPONSE, Integration, ServiceCall

_PREFIX, _SERVICE = "DynamoDB", "AmazonDynamoDBv2"
_GENERIC = "AmazonDynamoDBException"
#: Step Functions action -> DynamoDB operation and the boto3 client method
_OPERATIONS = {
    "getItem": ("GetItem", "get_item"),
    "putItem": ("PutItem", "put_item"),
    "updateItem": ("UpdateItem", "update_item"),
    "deleteItem": ("DeleteItem", "delete_item"),
}


@lru_cache(maxsize=1)
def _model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("dynamodb")


def _request(operation: str, parameters: Any, resource: str) -> dict[str, Any]:
    """The API request: the members the operation takes, with base64 text decoded where the model
    says binary (``{"B": "aGk="}``: JSON has no bytes, botocore wants them)."""
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise AslError("States.Runtime", f"{resource}: Parameters must be a JSON object")
    shape = _model().operation_model(operation).input_shape
    return {key: _decode(value, shape.members[key], resource) for key, value in parameters.items()
            if key in shape.members}


def _decode(value: Any, shape: Any, resource: str) -> Any:
    kind = shape.type_name
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise AslError(f"{_PREFIX}.{_GENERIC}",
                           f"{resource}: a binary attribute value must be base64 text, got {value[:40]!r}") from None
    if kind == "structure" and isinstance(value, dict):
        return {k: _decode(v, shape.members[k], resource) if k in shape.members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_decode(v, shape.member, resource) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _decode(v, shape.value, resource) for k, v in value.items()}
    return value


def _encode(value: Any) -> Any:
    """A response as JSON: binary attribute values as base64 text, numbers stay DynamoDB's text."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | set | tuple):
        return [_encode(v) for v in value]
    return value


def dynamodb_error(exc: BaseException) -> AslError | None:
    """The Step Functions error for a botocore ClientError from DynamoDB, else None."""
    from asl_airflow.integrations._optimized import declared_or_generic

    return declared_or_generic(exc, _PREFIX, _SERVICE, _GENERIC)


def _start(call: ServiceCall, context: Any) -> Any:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from asl_airflow.integrations._optimized import refused_request, sdk_metadata

    operation, method = _OPERATIONS[call.action]
    request = _request(operation, call.parameters, call.resource)
    client = AwsBaseHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name, client_type="dynamodb").conn
    try:
        response = getattr(client, method)(**request)
    except Exception as exc:
        error = dynamodb_error(exc) or refused_request(exc, _PREFIX, _SERVICE, "ValidationException", _GENERIC)
        if error is not None:
            raise error from exc
        raise
    return {**_encode(response), **sdk_metadata(response)}


def error_name(exc: BaseException, call: ServiceCall) -> str | None:
    error = dynamodb_error(exc)
    return error.error if error else None


def _entry(action: str) -> Integration:
    return Integration("dynamodb", action, frozenset({REQUEST_RESPONSE}), _PREFIX, _start, error_name=error_name)


ENTRIES = tuple(_entry(action) for action in _OPERATIONS)
