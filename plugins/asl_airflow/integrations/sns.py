"""Amazon SNS: ``arn:aws:states:::sns:publish`` (request-response; ``.waitForTaskToken`` is generic).

The provider's ``SnsPublishOperator`` returns only the message id, so the call goes through the
provider's ``SnsHook`` client, which keeps what Step Functions returns: ``MessageId``
(``SequenceNumber`` for FIFO topics) plus ``SdkHttpMetadata``/``SdkResponseMetadata``. A JSON
``Message`` is sent as JSON text, parameters SNS Publish does not take are dropped, and service
errors are ``SNS.<Exception>`` (``SNS.NotFoundException`` for a missing topic).
"""

from __future__ import annotations

import json
from typing import Any

from asl_airflow.integrations._optimized import only, raise_v1, sdk_metadata
from asl_airflow.integrations.base import REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN, Integration, ServiceCall

_PUBLISH = frozenset({
    "Message", "MessageAttributes", "MessageStructure", "MessageDeduplicationId", "MessageGroupId",
    "PhoneNumber", "Subject", "TargetArn", "TopicArn",
})


def start_publish(call: ServiceCall, context: Any) -> Any:
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    params = only(call.parameters, _PUBLISH, call.resource)
    if "Message" in params and not isinstance(params["Message"], str):
        params["Message"] = json.dumps(params["Message"], separators=(",", ":"))
    client = SnsHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name).get_conn()
    try:
        response = client.publish(**params)
    except Exception as exc:
        raise_v1(exc, "SNS", "AmazonSNS")
        raise
    result: dict[str, Any] = {"MessageId": response["MessageId"]}
    if response.get("SequenceNumber"):
        result["SequenceNumber"] = response["SequenceNumber"]
    return {**result, **sdk_metadata(response)}


def error_name(exc: BaseException, call: ServiceCall) -> str | None:
    from asl_airflow.integrations._optimized import v1_error

    error = v1_error(exc, "SNS", "AmazonSNS")
    return error.error if error else None


PUBLISH = Integration(
    "sns", "publish", frozenset({REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN}), "SNS", start_publish,
    error_name=error_name,
)

ENTRIES = (PUBLISH,)
