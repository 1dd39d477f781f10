"""What makes the first failing Parallel branch stop the others on Airflow, and the machine's
TimeoutSeconds hold there, without a DB: the compiler's watch lists, the trigger that bounds a
deferral, and the join's replay of a race (the end-to-end runs: tests/integration/test_parallel_race.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asl_airflow import asl_dag
from asl_airflow.airflow import triggers
from asl_airflow.airflow.composite import _Recorded, _Replay, settle, walk
from asl_airflow.asl import Interpreter, states
from asl_airflow.asl.context import ExecutionInfo

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "either_or_parallel.asl.json"


def test_branch_tasks_watch_their_parallel_and_only_those() -> None:
    dag = asl_dag(SAMPLE, dag_id="either_or")
    by_display = {t.task_display_name: t for t in dag.tasks}
    watched = by_display["TimeoutWait"].stop_watch
    assert len(watched) == 1 and watched[0]["mapped"] is False
    ids = set(watched[0]["task_ids"])
    # each branch's own state tasks: the Wait and Fail of branch 1, the poll loops' regions and Fail states
    assert by_display["TimeoutWait"].task_id in ids and by_display["Ran out of Time"].task_id in ids
    assert any("Get_Process1_Completion_Status" in i for i in ids) and len(ids) == 6
    for name in ("Wait Either For Process Completion Or Timeout", "Next Step If Process1 Completes"):
        assert by_display[name].stop_watch == []  # the entry, the successors: outside the branches
    assert all(t.execution_timeout_seconds is None for t in dag.tasks) and dag.dagrun_timeout is None


def test_nested_parallel_tasks_watch_both_levels() -> None:
    inner = {"StartAt": "In", "States": {"In": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Fail", "Error": "X"}}}],
        "Catch": [{"ErrorEquals": ["X"], "Next": "C"}]}, "C": {"Type": "Pass", "End": True}}}
    doc = {"StartAt": "Out", "States": {"Out": {"Type": "Parallel", "End": True, "Branches": [
        inner, {"StartAt": "D", "States": {"D": {"Type": "Pass", "End": True}}}]}}}
    dag = asl_dag(doc, dag_id="nested")
    a = next(t for t in dag.tasks if t.task_display_name == "A")
    outer_watch = next(w for w in a.stop_watch if any(i.endswith(".D") for i in w["task_ids"]))
    # the outer Parallel sees the inner one through its join only: B's failure, caught, is no stop
    assert not any(i.endswith(".B") for i in outer_watch["task_ids"])
    assert any(i.endswith("In.join") for i in outer_watch["task_ids"])
    assert len(a.stop_watch) == 2


def test_machine_timeout_reaches_every_task_and_the_dag() -> None:
    doc = {"TimeoutSeconds": 2, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 6, "End": True}}}
    dag = asl_dag(doc, dag_id="timeout")
    assert dag.dagrun_timeout == timedelta(seconds=2)
    assert [t.execution_timeout_seconds for t in dag.tasks] == [2.0]


def _run(trigger: triggers.AslDeadlineTrigger) -> dict[str, Any]:
    async def first() -> Any:
        async for event in trigger.run():
            return event.payload
        return None

    return asyncio.run(asyncio.wait_for(first(), 10))


def _never() -> Any:
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger

    return DateTimeTrigger(moment=datetime.now(UTC) + timedelta(hours=1))


def test_deferral_is_cut_at_the_execution_deadline() -> None:
    soon = datetime.now(UTC) + timedelta(seconds=0.3)
    event = _run(triggers.AslDeadlineTrigger.wrap(_never(), None, soon))
    assert event[triggers.EXECUTION_TIMEOUT_EVENT] is True


def test_the_execution_deadline_wins_over_the_state_deadline() -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    event = _run(triggers.AslDeadlineTrigger.wrap(_never(), past, past))
    assert triggers.EXECUTION_TIMEOUT_EVENT in event


def test_deferral_ends_when_a_sibling_branch_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Any] = []

    def failed(dag_id: str, run_id: str, index: int, watch: list[dict[str, Any]]) -> bool:
        asked.append((dag_id, run_id, index, watch))
        return len(asked) >= 3

    monkeypatch.setattr(triggers, "parallel_failed", failed)
    monkeypatch.setattr(triggers, "stop_poll_interval", lambda: 0.05)
    watch = {"dag_id": "d", "run_id": "r", "map_index": -1, "watch": [{"task_ids": ["b.x"], "mapped": False}]}
    trigger = triggers.AslDeadlineTrigger.wrap(_never(), None, None, watch)
    assert json.loads(json.dumps(trigger.serialize()[1]["watch"])) == watch  # plain JSON for the triggerer
    assert _run(trigger) == {triggers.STOPPED_EVENT: True}
    assert asked[0] == ("d", "r", -1, watch["watch"])


def test_the_inner_trigger_still_fires_first() -> None:
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger

    inner = DateTimeTrigger(moment=datetime.now(UTC) + timedelta(seconds=0.1))
    event = _run(triggers.AslDeadlineTrigger.wrap(inner, datetime.now(UTC) + timedelta(seconds=30)))
    assert not isinstance(event, dict)  # DateTimeTrigger's own payload (the moment), passed through


def _replay(recorded: dict[int, _Recorded], stopped: bool = False) -> tuple[Any, list[str]]:
    doc = json.loads(SAMPLE.read_text())
    state = doc["States"]["Wait Either For Process Completion Or Timeout"]
    replay = _Replay(recorded, None, stopped)
    env = states.StateEnv(ExecutionInfo(input={}), "P", {}, "2026-01-01T00:00:00Z", state_type="Parallel")
    try:
        outcome = replay.run_state("P", state, {"Process1ToComplete": True}, env, states.JSONPATH)
    except BaseException as exc:  # noqa: BLE001 - the test looks at what ended the replay
        return exc, [e["type"] for e in replay.history.events]
    return outcome, [e["type"] for e in replay.history.events]


def test_join_replays_a_race_as_the_local_engine_ran_it() -> None:
    local = Interpreter(json.loads(SAMPLE.read_text()), sleep=lambda s: None).execute({"Process1ToComplete": True})
    events = [e for e in local.history]
    branch_events = {
        0: [{"type": "WaitStateEntered"}, {"type": "WaitStateAborted"}],
        1: [{"type": t} for t in ("PassStateEntered", "PassStateExited", "ChoiceStateEntered",
                                   "ChoiceStateExited", "FailStateEntered")],
    }
    records = {
        "TimeoutWait": {"next": None, "events": branch_events[0], "stopped": 1, "error": None},
    }
    recorded = {0: walk(records, "TimeoutWait"),
                1: _Recorded(error={"Error": "States.FauxFailure1"}, events=branch_events[1]),
                2: walk({}, "Get Process2 Completion Status")}  # skipped at its start: no record
    settle(recorded, stopped=False)
    assert recorded[2].stopped == 0 and recorded[2].error is None
    outcome, types = _replay(recorded)
    assert getattr(outcome, "next", None) == "Next Step If Process1 Completes"
    local_types = [e["type"] for e in events]
    start = local_types.index("ParallelStateEntered")
    assert types == local_types[start:local_types.index("ParallelStateExited") + 1]


def test_join_of_a_stopped_parallel_records_parallel_state_aborted() -> None:
    from asl_airflow.asl.race import BranchStopped

    recorded = {0: _Recorded(events=[{"type": "WaitStateEntered"}, {"type": "WaitStateAborted"}], stopped=1)}
    settle(recorded, stopped=True)
    exc, types = _replay(recorded, stopped=True)
    assert isinstance(exc, BranchStopped)
    assert types == ["ParallelStateEntered", "ParallelStateStarted", "WaitStateEntered", "WaitStateAborted",
                     "ParallelStateAborted"]


def _context(pushed: dict[str, Any]) -> dict[str, Any]:
    from types import SimpleNamespace

    ti = SimpleNamespace(map_index=-1, dag_id="d", run_id="r", try_number=1,
                         xcom_push=lambda key, value: pushed.update({key: value}))
    dag_run = SimpleNamespace(dag_id="d", run_id="r", conf={}, start_date=datetime.now(UTC), logical_date=None,
                              triggering_user_name=None)
    store = SimpleNamespace(get=lambda key: None, set=lambda key, value: None)
    return {"ti": ti, "dag_run": dag_run, "task_state_store": store}


def _failing_after(monkeypatch: pytest.MonkeyPatch, cls: type, looks: int) -> list[int]:
    asked: list[int] = []

    def failed(self: Any, context: Any) -> bool:
        asked.append(1)
        return len(asked) >= looks

    monkeypatch.setattr(cls, "parallel_failed", failed)
    monkeypatch.setattr(triggers, "stop_poll_interval", lambda: 0.05)
    return asked


def test_a_wait_in_the_worker_stops_when_a_sibling_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowSkipException
    from asl_airflow.airflow.operators import AslStateOperator

    op = AslStateOperator(task_id="w", state_name="W", state={"Type": "Wait", "Seconds": 3, "End": True})
    op.stop_watch = [{"task_ids": ["x"], "mapped": False}]
    asked = _failing_after(monkeypatch, AslStateOperator, 3)
    pushed: dict[str, Any] = {}
    started = datetime.now(UTC)
    with pytest.raises(AirflowSkipException):
        op.sleep_until(_context(pushed), started + timedelta(seconds=3), [{"type": "WaitStateEntered"}])
    assert (datetime.now(UTC) - started).total_seconds() < 2 and len(asked) == 3
    record = pushed["asl_state"]
    assert record["stopped"] == 1 and [e["type"] for e in record["events"]] == ["WaitStateEntered",
                                                                                 "WaitStateAborted"]


def test_a_polling_loop_region_stops_when_a_sibling_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowSkipException
    from asl_airflow.airflow.composite import AslRegionOperator

    doc = json.loads(SAMPLE.read_text())["States"]["Wait Either For Process Completion Or Timeout"]["Branches"][1]
    members = ["Get Process1 Completion Status", "Check If Process1 Completed", "Wait Before Getting Process 1 Status"]
    region = AslRegionOperator(task_id="loop", members=members, machine_states=doc["States"])
    region.stop_watch = [{"task_ids": ["x"], "mapped": False}]
    monkeypatch.setattr("asl_airflow.airflow.composite.defers", lambda *a: False)  # the 5 s Wait in the worker
    _failing_after(monkeypatch, AslRegionOperator, 4)
    pushed: dict[str, Any] = {}
    progress = {"name": members[0], "data": {}, "variables": {}, "events": [], "waited": False}
    with pytest.raises(AirflowSkipException):
        region._run(_context(pushed), progress)
    record = pushed["asl_state"]
    assert record["stopped"] == 1
    assert [e["type"] for e in record["events"]][-3:] == ["ChoiceStateExited", "WaitStateEntered", "WaitStateAborted"]
