"""A finished DAG run read back as a Step Functions execution: status, output, error, history.

Everything comes from the tasks' own records (task instances, their tries, and the XComs each
state task pushed), so the same view works for ``dag.test()``, ``airflow standalone`` and
production runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asl_airflow.airflow.operators import STATE_KEY, execution_input, run_input
from asl_airflow.asl.history import dumps


@dataclass
class StateRun:
    task_id: str
    state_name: str
    state_type: str
    status: str
    tries: int
    start: datetime | None
    end: datetime | None

    @property
    def retries(self) -> int:
        return max(self.tries - 1, 0)

    @property
    def duration(self) -> float | None:
        if self.start and self.end:
            return (self.end - self.start).total_seconds()
        return None


def _xcoms(dag_id: str, run_id: str, session: Any) -> dict[tuple[str, str], Any]:
    """The unmapped tasks' XComs: the top-level states' records and outputs (mapped item tasks
    are reported by their Map's join)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    rows = session.execute(
        select(XComModel.task_id, XComModel.key, XComModel.value).where(
            XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.map_index == -1,
            XComModel.key.in_((STATE_KEY, "return_value")),
        )
    ).all()
    return {(task_id, key): XComModel.deserialize_value(_Row(value)) for task_id, key, value in rows}


def _watcher_run_input(dag_run: Any, session: Any) -> Any:
    """What a run without conf started with: its AssetWatcher events' payloads (``operators.run_input``)."""
    from airflow.models.asset import AssetEvent
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    events = session.execute(
        select(AssetEvent).join(AssetEvent.created_dagruns).where(DagRun.id == dag_run.id)
    ).scalars().all()
    return run_input({}, events)


class _Row:
    """``XComModel.deserialize_value`` takes an object with a ``value`` attribute."""

    def __init__(self, value: Any) -> None:
        self.value = value


def execution_result(dag: Any, dag_run: Any, with_history: bool = True) -> dict[str, Any]:
    """The ``{"status", "output", "error", "cause", "history"}`` object of the CLI, plus ``states``."""
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = dag_run.get_task_instances(session=session)
        xcoms = _xcoms(dag_run.dag_id, dag_run.run_id, session)
        runs = []
        nested: set[str] = set()
        for ti in tis:
            task = dag.get_task(ti.task_id) if dag.has_task(ti.task_id) else None
            if getattr(task, "nested", False) or ti.map_index >= 0:
                nested.add(ti.task_id)
            runs.append(StateRun(
                ti.task_id,
                getattr(task, "state_name", ti.task_id),
                getattr(task, "state_type", "?"),
                str(ti.state) if ti.state else "none",
                ti.try_number or 0,
                ti.start_date,
                ti.end_date,
            ))
        conf = dag_run.conf or {}
        started_input = execution_input(conf) if conf else _watcher_run_input(dag_run, session)
        started = dag_run.start_date
    ran = sorted((r for r in runs if r.start), key=lambda r: (r.start, r.task_id))
    top = [r for r in ran if r.task_id not in nested and (r.task_id, STATE_KEY) in xcoms]
    output = None
    error = cause = None
    recorded_error = timed_out = False
    for r in top:
        record = xcoms[(r.task_id, STATE_KEY)] or {}
        if record.get("error") is not None:  # a Fail state may end the run with no Error at all
            recorded_error = True
            timed_out = timed_out or bool(record.get("timed_out"))
            error, cause = record["error"].get("Error"), record["error"].get("Cause")
        elif r.status == "success" and record.get("next") is None:
            output = record.get("output")
    # a state task that failed without recording why (its worker was killed after its last try, say)
    # fails the execution even when the DAG run's leaves let it end "success"
    lost = next((r for r in ran if r.status == "failed" and r.task_id not in nested and r.state_type != "?"), None)
    failed = str(dag_run.state) == "failed" or recorded_error or lost is not None
    status = "FAILED" if failed else "SUCCEEDED"
    if failed and not recorded_error:
        limit = _execution_timeout(dag)
        if limit and started and dag_run.end_date and (dag_run.end_date - started).total_seconds() >= limit:
            # the scheduler's dagrun_timeout ended it (e.g. while a task was queued): TIMED_OUT
            timed_out = True
            error, cause = "States.Timeout", ("The execution ran longer than the state machine's TimeoutSeconds "
                                              f"({limit:g} seconds).")
        else:
            bad = next((r for r in ran if r.status in ("failed", "upstream_failed") and r.task_id not in nested),
                       None)
            error, cause = "States.Runtime", f"task {bad.task_id if bad else '?'} failed"
    if timed_out:
        status = "TIMED_OUT"
    result: dict[str, Any] = {
        "status": status,
        "output": None if failed else output,
        "error": error,
        "cause": cause,
    }
    if with_history:
        events: list[dict[str, Any]] = [{
            "timestamp": started.isoformat() if started else None,
            "type": "ExecutionStarted",
            "executionStartedEventDetails": {"input": dumps(started_input)},
        }]
        records = [xcoms[(r.task_id, STATE_KEY)] or {} for r in top]
        if int(getattr(dag_run, "clear_number", 0) or 0):
            events.extend(redriven_events(records))
        else:
            for record in records:
                events.extend(record.get("events") or [])
        if timed_out:  # AWS's timer event carries the error only
            events.append({"type": "ExecutionTimedOut", "executionTimedOutEventDetails": {"error": error}})
        elif failed:
            details = {k: v for k, v in (("error", error), ("cause", cause)) if v is not None}
            events.append({"type": "ExecutionFailed", "executionFailedEventDetails": details})
        else:
            events.append({"type": "ExecutionSucceeded",
                           "executionSucceededEventDetails": {"output": dumps(output)}})
        for i, event in enumerate(events, start=1):
            event["id"] = i
            event["previousEventId"] = i - 1
        result["history"] = events
    result["artifacts"] = [
        (r.state_name, line) for r in ran for line in artifact_lines(xcoms.get((r.task_id, "return_value")))
    ]
    result["states"] = [
        {"state": r.state_name, "type": r.state_type, "task_id": r.task_id, "status": r.status,
         "retries": r.retries, "duration": r.duration}
        for r in sorted(runs, key=lambda r: (r.start is None, r.start or datetime.min, r.task_id))
    ]
    return result


def redriven_events(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events of a cleared (redriven) run's top-level states, as AWS's redriven history has them:
    each execution before a redrive (the events it wrote, then ``ExecutionFailed`` or
    ``ExecutionTimedOut``), ``ExecutionRedriven`` with the redrive's count, then what ran after it.

    ``records`` are in the order their tasks started. A record carries the redrive that wrote it
    (``clear``) and the failed records its task wrote before being cleared (``earlier``), kept in
    its task state store because clearing a task deletes its XCom record."""
    by_redrive: dict[int, list[tuple[str, int, dict[str, Any]]]] = {}
    for order, record in enumerate(records):
        for part in [*(record.get("earlier") or []), record]:
            found = part.get("events") or []
            first = str(found[0].get("timestamp") or "") if found else ""
            by_redrive.setdefault(int(part.get("clear") or 0), []).append((first, order, part))
    events: list[dict[str, Any]] = []
    last = max(by_redrive, default=0)
    for redrive in sorted(by_redrive):
        parts = [part for _, _, part in sorted(by_redrive[redrive], key=lambda item: (item[0], item[1]))]
        for part in parts:
            events.extend(part.get("events") or [])
        if redrive == last:
            break
        failure = next((part for part in reversed(parts) if part.get("error")), None)
        error = (failure or {}).get("error") or {}
        if failure and failure.get("timed_out"):  # AWS's timer event carries the error only
            events.append({"type": "ExecutionTimedOut", "executionTimedOutEventDetails": {"error": error.get("Error")}})
        else:
            events.append({"type": "ExecutionFailed", "executionFailedEventDetails": {
                k: v for k, v in (("error", error.get("Error")), ("cause", error.get("Cause"))) if v is not None}})
        following = min(r for r in by_redrive if r > redrive)
        events.append({"type": "ExecutionRedriven", "executionRedrivenEventDetails": {"redriveCount": following}})
    return events


def _execution_timeout(dag: Any) -> float | None:
    """The state machine's TimeoutSeconds, as the compiler gave it to every state task."""
    for task in getattr(dag, "tasks", []):
        seconds = getattr(task, "execution_timeout_seconds", None)
        if seconds:
            return float(seconds)
    return None


_ARTIFACT_KEYS = ("S3ModelArtifacts", "S3OutputPath", "ModelDataUrl", "OutputLocation", "S3Uri")


def artifact_lines(output: Any) -> list[str]:
    """Where a state left its results (model artifact, transform output, ...), found in its output."""
    found: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                is_output = "Output" in path + key or key == "S3ModelArtifacts"
                if key in _ARTIFACT_KEYS and isinstance(sub, str) and is_output:
                    found.append(f"{path}.{key} = {sub}")
                else:
                    walk(sub, f"{path}.{key}")
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                walk(sub, f"{path}[{i}]")

    walk(output, "$")
    return found
