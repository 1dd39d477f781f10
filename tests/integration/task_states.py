"""The Task states the service tests chain: one writer of the shape, so each test says only what
its service does."""

from __future__ import annotations

from typing import Any


def task(resource: str, parameters: Any, result_path: str, next_state: str, catch: str | None = None) -> dict:
    """A Task writing its result at ``result_path``; ``catch`` names an error caught to the same place."""
    state = {"Type": "Task", "Resource": resource, "Parameters": parameters, "ResultPath": result_path,
             "Next": next_state}
    if catch:
        state["Catch"] = [{"ErrorEquals": [catch], "ResultPath": result_path, "Next": next_state}]
    return state


def chain(steps: list[tuple[str, str, Any, str, str | None]]) -> dict:
    """A machine running the (name, resource, parameters, result path, caught error) steps in order."""
    states = {}
    for i, (name, resource, parameters, result_path, catch) in enumerate(steps):
        following = steps[i + 1][0] if i + 1 < len(steps) else "Done"
        states[name] = task(resource, parameters, result_path, following, catch)
    states["Done"] = {"Type": "Succeed"}
    return {"StartAt": steps[0][0], "States": states}
