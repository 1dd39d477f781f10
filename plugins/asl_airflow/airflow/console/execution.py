"""A DAG run read as the Step Functions console reads an execution: per-state status and data,
``DescribeExecution`` and the event table.

Pure functions over the Step Functions-shaped history (:func:`asl_airflow.airflow.results.execution_result`)
and the state machine's definition, so they are tested without an Airflow database; :mod:`.routes`
feeds them from a DAG run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asl_airflow.asl.context import ACCOUNT, REGION
from asl_airflow.asl.history import loads_detail

SUCCEEDED, FAILED, CAUGHT, RUNNING, NOT_RUN = "SUCCEEDED", "FAILED", "CAUGHT", "RUNNING", "NOT_RUN"
#: when a state ran several times (Map iterations, loops), the worst outcome is what the diagram shows
_PRIORITY = {FAILED: 4, RUNNING: 3, CAUGHT: 2, SUCCEEDED: 1, NOT_RUN: 0}
#: history event types that belong to their state's own service family, not to a state by name
_FAMILY = (("Parallel", "Parallel"), ("Map", "Map"))
#: Airflow task instance states in which a state is under way (queued/scheduled: not entered yet)
_LIVE_TI_STATES = frozenset({"running", "deferred", "up_for_retry", "up_for_reschedule", "restarting"})


def machine_states(machine: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state of the machine by name, the ones inside Parallel branches and Map processors too
    (Step Functions requires names unique across the whole machine)."""
    found: dict[str, dict[str, Any]] = {}

    def walk(sub: dict[str, Any]) -> None:
        for name, state in sub.get("States", {}).items():
            found[name] = state
            for branch in state.get("Branches", []):
                walk(branch)
            for key in ("ItemProcessor", "Iterator"):
                if isinstance(state.get(key), dict):
                    walk(state[key])

    walk(machine)
    return found


def _details(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


@dataclass
class _Occurrence:
    """One entry into a state (a Map runs its processor's states once per item)."""

    name: str
    type: str
    input: Any = None
    output: Any = None
    exited: bool = False
    aborted: bool = False
    failed: bool = False  # the last outcome of its work was a failure (a later success clears it)
    error: str | None = None
    cause: str | None = None
    attempts: int = 0
    resource: str | None = None
    iterations: int | None = None
    events: list[int] = field(default_factory=list)

    def status(self, execution_running: bool) -> str:
        if self.type == "Fail":
            return FAILED
        if self.exited:
            return CAUGHT if self.failed else SUCCEEDED
        if self.failed:
            return FAILED
        if self.aborted:  # stopped because a sibling branch failed: Step Functions' "cancelled"
            return NOT_RUN
        return RUNNING if execution_running else FAILED


def _family(event_type: str) -> str:
    for prefix, family in _FAMILY:
        if event_type.startswith(prefix):
            return family
    return "Task"


def walk_history(history: list[dict[str, Any]]) -> tuple[list[_Occurrence], dict[int, str]]:
    """The state entries of a history, and which state each event belongs to (event id -> state name).

    Events between a state's ``...StateEntered`` and ``...StateExited`` belong to it; a
    service event (``TaskFailed``, ``ParallelStateFailed``, ``MapStateStarted``) belongs to the
    latest open entry of its family, so a Fail state left open inside a branch does not take
    the failure of the Parallel around it.
    """
    occurrences: list[_Occurrence] = []
    open_: list[_Occurrence] = []
    owner: dict[int, str] = {}
    for event in history:
        kind = str(event.get("type", ""))
        details = _details(event)
        event_id = int(event.get("id", 0))
        if kind.startswith("Execution"):
            continue
        if kind.endswith("StateEntered"):
            occurrence = _Occurrence(str(details.get("name")), kind.removesuffix("StateEntered"),
                                     input=loads_detail(details.get("input")))
            occurrences.append(occurrence)
            open_.append(occurrence)
            if occurrence.type == "Fail":
                state_error = details.get("error")
                occurrence.error = state_error if isinstance(state_error, str) else None
        elif kind.endswith("StateExited"):
            name = details.get("name")
            occurrence = next((o for o in reversed(open_) if o.name == name), None)
            if occurrence is None:
                continue
            open_.remove(occurrence)
            occurrence.exited = True
            occurrence.output = loads_detail(details.get("output"))
        else:
            wanted = kind.removesuffix("StateAborted") if kind.endswith("StateAborted") else _family(kind)
            occurrence = next((o for o in reversed(open_) if o.type == wanted), None)
            if occurrence is None:
                continue
            if kind.endswith("StateAborted"):
                occurrence.aborted = True
                open_.remove(occurrence)
            elif kind.startswith(("MapIteration", "MapRun")):
                pass  # an item's own outcome: the states inside it carry their status
            elif kind.endswith(("Failed", "TimedOut")):
                occurrence.failed = True
                occurrence.error = details.get("error", occurrence.error)
                occurrence.cause = details.get("cause", occurrence.cause)
            elif kind.endswith("Succeeded"):
                occurrence.failed = False
            if kind.endswith("Scheduled"):
                occurrence.attempts += 1
                resource = details.get("resource")
                if resource:
                    occurrence.resource = f"{details.get('resourceType', '')}:{resource}".lstrip(":")
            if kind == "MapStateStarted":
                occurrence.iterations = details.get("length")
        event_ids = occurrence.events if occurrence is not None else []
        if occurrence is not None:
            event_ids.append(event_id)
            owner[event_id] = occurrence.name
    return occurrences, owner


def state_views(machine: dict[str, Any], history: list[dict[str, Any]], execution_status: str,
                live: dict[str, list[str]] | None = None) -> dict[str, dict[str, Any]]:
    """Per state name: ``status`` (SUCCEEDED / FAILED / CAUGHT / RUNNING / NOT_RUN), its latest input,
    output, error, cause, retries, how often it ran, resource, and its ASL.

    ``live`` maps a state name to the Airflow states of its task instances: a running execution's
    states report their events when they finish, so one under way shows RUNNING from them.
    """
    running = execution_status == RUNNING
    definitions = machine_states(machine)
    occurrences, _ = walk_history(history)
    views: dict[str, dict[str, Any]] = {}
    for name, state in definitions.items():
        mine = [o for o in occurrences if o.name == name]
        status = NOT_RUN
        for occurrence in mine:
            candidate = occurrence.status(running)
            if _PRIORITY[candidate] > _PRIORITY[status]:
                status = candidate
        ti_states = (live or {}).get(name, [])
        if running and status in (NOT_RUN, SUCCEEDED) and not (mine and all(o.exited for o in mine)) and (
                any(s in _LIVE_TI_STATES for s in ti_states)
                or ("success" in ti_states and any(s not in ("success", "skipped", "failed") for s in ti_states))):
            status = RUNNING
        last = mine[-1] if mine else None
        failed = next((o for o in reversed(mine) if o.error or o.cause), None)
        error = failed.error if failed else None
        cause = failed.cause if failed else None
        if state.get("Type") == "Fail" and mine:
            error = error or state.get("Error")
            cause = cause or state.get("Cause")
        iterations = next((o.iterations for o in reversed(mine) if o.iterations is not None), None)
        views[name] = {
            "name": name,
            "type": state.get("Type"),
            "status": status,
            "runs": len(mine),
            "input": last.input if last else None,
            "output": last.output if last and last.exited else None,
            "error": error,
            "cause": cause,
            "retries": sum(max(o.attempts - 1, 0) for o in mine),
            "resource": next((o.resource for o in reversed(mine) if o.resource), state.get("Resource")),
            "iterations": iterations,
            "branches": len(state["Branches"]) if state.get("Type") == "Parallel" else None,
            "asl": state,
        }
    return views


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def event_rows(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The console's event table: id, type, step, resource, started after (ms), timestamp."""
    _, owner = walk_history(history)
    started = _timestamp(history[0].get("timestamp")) if history else None
    rows = []
    for event in history:
        details = _details(event)
        resource = details.get("resource")
        if resource and details.get("resourceType"):
            resource = f"{details['resourceType']}:{resource}"
        at = _timestamp(event.get("timestamp"))
        after = None
        if at is not None and started is not None:
            after = round((at - started).total_seconds() * 1000)
        event_id = int(event.get("id", 0))
        rows.append({
            "id": event_id,
            "type": event.get("type"),
            "step": owner.get(event_id) or details.get("name"),
            "resource": resource,
            "startedAfterMs": after,
            "timestamp": event.get("timestamp"),
            "details": details,
        })
    return rows


def execution_arns(machine_name: str, execution_name: str) -> tuple[str, str]:
    """``(stateMachineArn, executionArn)`` in the account and region the local engine uses."""
    base = f"arn:aws:states:{REGION}:{ACCOUNT}"
    return f"{base}:stateMachine:{machine_name}", f"{base}:execution:{machine_name}:{execution_name}"


def describe_execution(*, machine_name: str, execution_name: str, status: str, input_: str | None,
                       output: str | None, error: str | None, cause: str | None, start: datetime | None,
                       stop: datetime | None, redrive_count: int = 0) -> dict[str, Any]:
    """The ``DescribeExecution`` response: output only once SUCCEEDED, error and cause only when set."""
    machine_arn, execution_arn = execution_arns(machine_name, execution_name)
    body: dict[str, Any] = {
        "executionArn": execution_arn,
        "stateMachineArn": machine_arn,
        "name": execution_name,
        "status": status,
        "startDate": start.isoformat() if start else None,
        "input": input_,
        "inputDetails": {"included": input_ is not None},
        "redriveCount": redrive_count,
    }
    if stop is not None and status != RUNNING:
        body["stopDate"] = stop.isoformat()
    if status == SUCCEEDED:
        body["output"] = output
        body["outputDetails"] = {"included": output is not None}
    if error is not None:
        body["error"] = error
    if cause is not None:
        body["cause"] = cause
    return body
