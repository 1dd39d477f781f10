"""A loop region on the Airflow engine counts the 25,000-event history quota from the execution's
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
