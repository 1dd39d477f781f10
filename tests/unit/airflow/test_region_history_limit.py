"""A loop region and a join on the Airflow engine count the 25,000-event history quota from the execution's
start, as AWS does, not from the region's start: the events of the states before it count."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.exceptions import AirflowFailException
from asl_airflow.airflow import operators
from asl_airflow.airflow.composite import AslRegionOperator
from asl_airflow.asl import errors


class _Store(dict):
    def set(self, key: str, value: Any) -> None:
        self[key] = value

    def delete(self, key: str) -> None:
        self.pop(key, None)


def _context(pushed: list[dict[str, Any]]) -> dict[str, Any]:
    ti = SimpleNamespace(try_number=1, dag_id="d", run_id="r", task_id="loop", map_index=-1,
                         xcom_push=lambda key, value: pushed.append(value))
    dag_run = SimpleNamespace(triggering_user_name="admin", clear_number=0, start_date=datetime.now(UTC),
                              conf={}, run_id="r", dag_id="d", consumed_asset_events=None)
    return {"task_state_store": _Store(), "ti": ti, "dag_run": dag_run}


def test_a_loop_region_counts_the_events_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # the state before the region ended at event 24,990 of the execution
    before = {"next": "A", "output": {}, "variables": None, "error": None, "last_id": 24_990}
    monkeypatch.setattr(operators, "pull_record", lambda ti, task_id, key, index: before)
    region = AslRegionOperator(task_id="loop", members=["A"], predecessors={"before": "Before"},
                               machine_states={"A": {"Type": "Pass", "Next": "A"}})
    pushed: list[dict[str, Any]] = []
    with pytest.raises(AirflowFailException, match="maximum number of history events"):
        region.execute(_context(pushed))
    record = pushed[-1]
    assert record["error"] == {"Error": errors.RUNTIME, "Cause": errors.HISTORY_LIMIT_CAUSE}
    # events 24,991 ... 24,999 are the region's; the 25,000th is the ExecutionFailed that reports it
    assert len(record["events"]) == 9 and record["last_id"] == 24_999


def test_a_join_counts_the_events_before_its_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Parallel entered at event 24,990 whose branch wrote 20 events: the join, placing them in the
    history, reaches the quota and fails the execution (it used to count from the Parallel's start,
    and past 25,000 events of its own it stopped with a Python exception and no record)."""
    from asl_airflow.airflow.composite import AslJoinOperator

    branch_events = [{"type": "PassStateEntered" if i % 2 == 0 else "PassStateExited",
                      "stateEnteredEventDetails" if i % 2 == 0 else "stateExitedEventDetails":
                      {"name": "B", "input" if i % 2 == 0 else "output": "{}"}} for i in range(20)]
    records = {
        ("entry", operators.ENTRY_KEY): {"failed": False, "base": 24_990, "variables": None, "data": {},
                                         "entered": "2026-01-01T00:00:00.000Z", "input": {}},
        ("b_tail", operators.STATE_KEY): {"next": None, "output": {}, "events": branch_events, "error": None},
    }
    monkeypatch.setattr(operators, "pull_record", lambda ti, task_id, key, index: records.get((task_id, key)))
    monkeypatch.setattr("asl_airflow.airflow.composite.pull_record",
                        lambda ti, task_id, key, index: records.get((task_id, key)))
    state = {"Type": "Parallel", "End": True,
             "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}]}
    join = AslJoinOperator(task_id="P_join", state_name="P", state=state, entry_task_id="entry",
                           branch_tails=[{"B": "b_tail"}], branch_starts=["B"])
    pushed: list[dict[str, Any]] = []
    with pytest.raises(AirflowFailException, match="maximum number of history events"):
        join.execute(_context(pushed))
    assert pushed[-1]["error"] == {"Error": errors.RUNTIME, "Cause": errors.HISTORY_LIMIT_CAUSE}
