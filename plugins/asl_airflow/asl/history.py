"""Step Functions-shaped execution history events.

Both engines describe what happened with the same events AWS writes (``ExecutionStarted``,
``PassStateEntered``, ``TaskScheduled``, ...), so users can compare runs across engines and AWS.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from asl_airflow.asl import errors, strictjson
from asl_airflow.asl.context import iso_now

# the event-type prefix AWS uses for each state type ("PassStateEntered", "MapStateExited", ...)
_PREFIX = {
    "Task": "Task",
    "Pass": "Pass",
    "Choice": "Choice",
    "Wait": "Wait",
    "Succeed": "Succeed",
    "Fail": "Fail",
    "Parallel": "Parallel",
    "Map": "Map",
}


def dumps(value: Any) -> str:
    """JSON as Step Functions writes it inside event details (compact); a value with no JSON text
    (NaN, Infinity) raises :class:`~asl_airflow.asl.strictjson.JsonError` instead of writing ``NaN``."""
    return strictjson.dumps(value)


def loads_detail(text: Any) -> Any:
    """An event detail's JSON text read back (``input``, ``output``, ``parameters``): the value, or
    the text itself when it is not JSON (or not text), so a reader of a history never fails on it."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


_ARN_FIELD = r"(?:\$\{[^}]*\}|[^:$])*"
_INTEGRATION_ARN = re.compile(rf"^arn:{_ARN_FIELD}:states:{_ARN_FIELD}:{_ARN_FIELD}:(?P<tail>.+)$")


def task_event_family(resource: str) -> str:
    """``LambdaFunction`` for a bare Lambda ARN, ``Activity`` for activities, else ``Task``."""
    if resource.startswith("arn:") and ":lambda:" in resource and ":function:" in resource:
        return "LambdaFunction"
    if ":activity:" in resource:
        return "Activity"
    return "Task"


def details_key(family: str, what: str) -> str:
    """``taskSucceededEventDetails``, ``lambdaFunctionScheduledEventDetails``, ... for an event family."""
    return f"{family[0].lower()}{family[1:]}{what}EventDetails"


def resource_details(family: str, resource: str) -> dict[str, Any]:
    """``resourceType``/``resource`` of a service-integration event; bare Lambda and activity events have none."""
    if family != "Task":
        return {}
    # arn:aws:states:::service:action(.sync) -> resourceType=service, resource=action(.sync); the
    # region and account may be given (arn:aws:states:us-east-1:123456789012:..., or ${AWS::Region})
    match = _INTEGRATION_ARN.match(resource)
    tail = match.group("tail") if match else resource.split(":::", 1)[-1]
    service, _, action = tail.partition(":")
    if service == "aws-sdk":  # AWS records aws-sdk:s3:getObject as resourceType aws-sdk:s3, resource getObject
        sdk_service, _, action = action.partition(":")
        service = f"aws-sdk:{sdk_service}"
    return {"resourceType": service, "resource": action}


@dataclass
class History:
    """An append-only list of events with AWS's ids and previousEventId links.

    Bounded as on AWS: the event that would be number ``limit`` (25,000) counting ``offset`` events
    already spent elsewhere (e.g. by the states before an Airflow region task) raises
    :class:`~asl_airflow.asl.errors.HistoryLimitExceeded` instead of being added; only a ``terminal``
    event (the ExecutionFailed that reports it) may take that last place. Identical payload texts
    (a state's output and the next state's input) are stored once.
    """

    events: list[dict[str, Any]] = field(default_factory=list)
    offset: int = 0
    limit: int = errors.HISTORY_LIMIT_EVENTS
    _texts: dict[str, str] = field(default_factory=dict, repr=False)
    _last: tuple[Any, str] | None = field(default=None, repr=False)

    def _room(self, terminal: bool = False) -> None:
        if not terminal and self.offset + len(self.events) + 1 >= self.limit:
            raise errors.HistoryLimitExceeded(errors.HISTORY_LIMIT_CAUSE)

    def payload(self, value: Any) -> str:
        """``dumps(value)``, sharing one string object among recent equal texts (memory). The engines
        never mutate a state's data (they copy), so the same object twice in a row (a state's output
        entering the next state) is written once."""
        if self._last is not None and self._last[0] is value:
            return self._last[1]
        text = dumps(value)
        if isinstance(value, dict | list):
            self._last = (value, text)
        if len(text) < 64:
            return text
        shared = self._texts.get(text)
        if shared is not None:
            return shared
        if len(self._texts) >= 8:
            self._texts.pop(next(iter(self._texts)))
        self._texts[text] = text
        return text

    def add(self, type_: str, details_key: str | None = None, details: dict[str, Any] | None = None,
            timestamp: str | None = None, terminal: bool = False) -> dict[str, Any]:
        self._room(terminal)
        event: dict[str, Any] = {
            "id": len(self.events) + 1,
            "previousEventId": len(self.events),
            "timestamp": timestamp or iso_now(),
            "type": type_,
        }
        if details_key:
            event[details_key] = details or {}
        self.events.append(event)
        return event

    def extend(self, events: list[dict[str, Any]]) -> None:
        """Append events recorded elsewhere (a branch task's own record), renumbered in this history."""
        for recorded in events:
            self._room()
            event = dict(recorded)
            event["id"] = len(self.events) + 1
            event["previousEventId"] = len(self.events)
            self.events.append(event)

    def state_entered(self, state_type: str, name: str, input_: Any) -> None:
        key = "stateEnteredEventDetails"
        self.add(f"{_PREFIX[state_type]}StateEntered", key, {"name": name, "input": self.payload(input_)})

    def state_exited(self, state_type: str, name: str, output: Any) -> None:
        key = "stateExitedEventDetails"
        self.add(f"{_PREFIX[state_type]}StateExited", key, {"name": name, "output": self.payload(output)})

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]
