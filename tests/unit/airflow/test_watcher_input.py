"""A run started by AssetWatcher events gets their payloads as its execution input (no DB)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from asl_airflow.airflow.operators import run_input, watcher_input


def _event(minute: int, extra: dict, id_: int = 0) -> SimpleNamespace:
    return SimpleNamespace(id=id_, timestamp=datetime(2026, 6, 1, 9, minute, tzinfo=UTC), extra=extra)


def test_trigger_payloads_oldest_first():
    events = [_event(5, {"from_trigger": True, "payload": {"n": 2}}, 2),
              _event(1, {"from_trigger": True, "payload": {"n": 1}}, 1),
              _event(3, {"source": "a task's outlet"}, 3)]
    assert watcher_input(events) == [{"n": 1}, {"n": 2}]


def test_no_trigger_event_means_no_watcher_input():
    assert watcher_input([_event(1, {"from_trigger": False, "payload": {"n": 1}})]) is None
    assert watcher_input([_event(1, {})]) is None
    assert watcher_input(None) is None


def test_conf_wins_over_watcher_events():
    events = [_event(1, {"from_trigger": True, "payload": {"n": 1}})]
    assert run_input({"manual": True}, events) == {"manual": True}
    assert run_input({}, events) == [{"n": 1}]
    assert run_input(None, events) == [{"n": 1}]
    assert run_input({}, []) == {}
    assert run_input({"__asl_input__": [1, 2]}, events) == [1, 2]
