"""Step Functions-shaped execution history events.

Both engines describe what happened with the same events AWS writes (``ExecutionStarted``,
``PassStateEntered``, ``TaskScheduled``, ...), so users can compare runs across engines and AWS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

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
    """JSON as Step Functions writes it inside event details (compact)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


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
    # arn:aws:states:::service:action(.sync) -> resourceType=service, resource=action(.sync)
    tail = resource.split(":::", 1)[-1]
    service, _, action = tail.partition(":")
    return {"resourceType": service, "resource": action}


@dataclass
class History:
    """An append-only list of events with AWS's ids and previousEventId links."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, type_: str, details_key: str | None = None, details: dict[str, Any] | None = None,
            timestamp: str | None = None) -> dict[str, Any]:
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
            event = dict(recorded)
            event["id"] = len(self.events) + 1
            event["previousEventId"] = len(self.events)
            self.events.append(event)

    def state_entered(self, state_type: str, name: str, input_: Any) -> None:
        key = "stateEnteredEventDetails"
        self.add(f"{_PREFIX[state_type]}StateEntered", key, {"name": name, "input": dumps(input_)})

    def state_exited(self, state_type: str, name: str, output: Any) -> None:
        key = "stateExitedEventDetails"
        self.add(f"{_PREFIX[state_type]}StateExited", key, {"name": name, "output": dumps(output)})

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]
