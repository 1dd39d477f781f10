"""Amazon SQS: ``arn:aws:states:::sqs:sendMessage`` (request-response; ``.waitForTaskToken`` is generic).

The provider's ``SqsPublishOperator`` returns the response without its HTTP metadata, so the call
goes through the provider's ``SqsHook`` client. Step Functions returns ``MD5OfMessageBody``,
``MessageId`` (``MD5OfMessageAttributes``, ``SequenceNumber`` when present) and
``SdkHttpMetadata``/``SdkResponseMetadata``; a JSON ``MessageBody`` is sent as JSON text and
parameters SendMessage does not take are dropped. Errors are ``SQS.<Exception>``
(``SQS.QueueDoesNotExistException`` for a missing queue).
"""

from __future__ import annotations

import json
from typing import Any

from asl_airflow.integrations._optimized import only, raise_v1, sdk_metadata
from asl_airflow.integrations.base import REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN, Integration, ServiceCall

_SEND = frozenset({
    "DelaySeconds", "MessageAttributes", "MessageBody", "MessageDeduplicationId", "MessageGroupId", "QueueUrl",
})
_OUTPUT = ("MD5OfMessageAttributes", "MD5OfMessageBody", "MD5OfMessageSystemAttributes", "MessageId",
           "SequenceNumber")


def start_send_message(call: ServiceCall, context: Any) -> Any:
    from airflow.providers.amazon.aws.hooks.sqs import SqsHook

    params = only(call.parameters, _SEND, call.resource)
    if params.get("MessageBody") is not None and not isinstance(params["MessageBody"], str):
        params["MessageBody"] = json.dumps(params["MessageBody"], separators=(",", ":"))
    client = SqsHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name).get_conn()
    try:
        response = client.send_message(**params)
    except Exception as exc:
        raise_v1(exc, "SQS", "AmazonSQS")
        raise
    result = {key: response[key] for key in _OUTPUT if response.get(key)}
    return {**result, **sdk_metadata(response)}


def error_name(exc: BaseException, call: ServiceCall) -> str | None:
    from asl_airflow.integrations._optimized import v1_error

    error = v1_error(exc, "SQS", "AmazonSQS")
    return error.error if error else None


SEND_MESSAGE = Integration(
    "sqs", "sendMessage", frozenset({REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN}), "SQS", start_send_message,
    error_name=error_name,
)

ENTRIES = (SEND_MESSAGE,)
