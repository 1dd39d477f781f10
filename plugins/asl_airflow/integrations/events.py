"""Amazon EventBridge: ``arn:aws:states:::events:putEvents`` (request-response and ``.waitForTaskToken``,
the latter through the generic wrapper in ``callbacks.py``, as AWS offers both).

What the optimized integration does beyond the API call, as AWS documents and records it:

- the state machine ARN and the execution ARN are appended to every entry's ``Resources``;
- a ``Detail`` given as JSON is sent as its JSON text; a string is sent as it is (EventBridge itself
  answers ``MalformedDetail`` when that text is not a JSON object);
- the output is the PutEvents response, ``{"Entries": [{"EventId"}...], "FailedEntryCount": 0}``,
  without the SDK metadata the SNS/SQS entries carry;
- a response with ``FailedEntryCount`` > 0 fails the Task with ``EventBridge.FailedEntry`` and the
  whole response as JSON text for the cause (the events that did go through stay sent: EventBridge
  has no transaction, and Step Functions does not retract them).

The call goes through the provider's ``EventBridgeHook`` client (the hook itself only manages
rules). Service errors are the AWS SDK for Java v1 classes: a declared error keeps its name
(``EventBridge.ResourceNotFoundException`` for a missing bus, ``EventBridge.InternalException``),
any other code is ``EventBridge.AmazonEventBridgeException``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations.base import REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN, Integration, ServiceCall

_PREFIX, _SERVICE, _GENERIC = "EventBridge", "AmazonEventBridge", "AmazonEventBridgeException"
FAILED_ENTRY = "EventBridge.FailedEntry"


@lru_cache(maxsize=1)
def _members() -> tuple[frozenset[str], frozenset[str]]:
    """The PutEvents request members and the members of one entry, from botocore's model."""
    import botocore.session

    shape = botocore.session.get_session().get_service_model("events").operation_model("PutEvents").input_shape
    return frozenset(shape.members), frozenset(shape.members["Entries"].member.members)


def _request(call: ServiceCall) -> dict[str, Any]:
    parameters = call.parameters if call.parameters is not None else {}
    if not isinstance(parameters, dict):
        raise AslError("States.Runtime", f"{call.resource}: Parameters must be a JSON object")
    request_members, entry_members = _members()
    request = {key: value for key, value in parameters.items() if key in request_members}
    entries = request.get("Entries")
    if isinstance(entries, list):
        appended = [arn for arn in call.extra.get("execution_arns") or [] if arn]
        request["Entries"] = [_entry(entry, entry_members, appended) for entry in entries]
    return request


def _entry(entry: Any, members: frozenset[str], appended: list[str]) -> Any:
    if not isinstance(entry, dict):
        return entry  # botocore refuses it with the API's own message
    out = {key: value for key, value in entry.items() if key in members}
    if "Detail" in out and not isinstance(out["Detail"], str):
        out["Detail"] = json.dumps(out["Detail"], separators=(",", ":"))
    resources = out.get("Resources")
    out["Resources"] = [*(resources if isinstance(resources, list) else []), *appended]
    return out


def events_error(exc: BaseException) -> AslError | None:
    """The Step Functions error for an exception of the PutEvents call, else None."""
    from asl_airflow.integrations._optimized import declared_or_generic, refused_request

    return (declared_or_generic(exc, _PREFIX, _SERVICE, _GENERIC)
            or refused_request(exc, _PREFIX, _SERVICE, "ValidationException", _GENERIC))


def _start(call: ServiceCall, context: Any) -> Any:
    from airflow.providers.amazon.aws.hooks.eventbridge import EventBridgeHook

    request = _request(call)
    client = EventBridgeHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name).conn
    try:
        response = client.put_events(**request)
    except Exception as exc:
        error = events_error(exc)
        if error is not None:
            raise error from exc
        raise
    result = {"Entries": response.get("Entries", []), "FailedEntryCount": response.get("FailedEntryCount", 0)}
    if result.get("FailedEntryCount"):
        raise AslError(FAILED_ENTRY, json.dumps(result, separators=(",", ":")))
    return result


def error_name(exc: BaseException, call: ServiceCall) -> str | None:
    error = events_error(exc)
    return error.error if error else None


PUT_EVENTS = Integration(
    "events", "putEvents", frozenset({REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN}), _PREFIX, _start, error_name=error_name,
)

ENTRIES = (PUT_EVENTS,)
