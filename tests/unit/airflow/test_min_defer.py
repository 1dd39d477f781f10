"""``[asl_airflow] min_defer_seconds``: short waits stay in the worker, fast triggers are held (issue 9).

LocalExecutor fails a task whose deferral comes back before the scheduler has read the deferring
worker's "success" (apache/airflow#67287). The deployment tests show it on real components; these
check the two pieces of the remedy without a scheduler.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from asl_airflow.airflow.operators import defers, min_defer_seconds
from asl_airflow.airflow.triggers import AslHoldTrigger


def _context(user: str | None = "admin") -> dict:
    return {"dag_run": SimpleNamespace(triggering_user_name=user)}


def test_the_default_is_five_seconds_and_configurable(monkeypatch):
    monkeypatch.delenv("AIRFLOW__ASL_AIRFLOW__MIN_DEFER_SECONDS", raising=False)
    assert min_defer_seconds() == 5.0
    monkeypatch.setenv("AIRFLOW__ASL_AIRFLOW__MIN_DEFER_SECONDS", "2.5")
    assert min_defer_seconds() == 2.5
    monkeypatch.setenv("AIRFLOW__ASL_AIRFLOW__MIN_DEFER_SECONDS", "-1")
    assert min_defer_seconds() == 0.0


def test_a_wait_below_the_threshold_stays_in_the_worker(monkeypatch):
    monkeypatch.setenv("AIRFLOW__ASL_AIRFLOW__MIN_DEFER_SECONDS", "5")
    now = datetime.now(UTC)
    assert not defers(_context(), now + timedelta(seconds=1))
    assert not defers(_context(), now + timedelta(seconds=3))
    assert defers(_context(), now + timedelta(seconds=30))
    # dag.test() runs triggers inline, without an executor to race: it always defers
    assert defers(_context("dag_test"), now + timedelta(seconds=1))
    # the execution's deadline falls inside the wait: the deferral's guard times it out
    assert defers(_context(), now + timedelta(seconds=3), deadline=now + timedelta(seconds=1))
    monkeypatch.setenv("AIRFLOW__ASL_AIRFLOW__MIN_DEFER_SECONDS", "0")
    assert defers(_context(), now + timedelta(seconds=1))


def test_a_trigger_that_fires_at_once_is_held_until_not_before():
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger

    start = datetime.now(UTC)
    held = AslHoldTrigger.wrap(DateTimeTrigger(moment=start), start + timedelta(seconds=1.5))
    classpath, kwargs = held.serialize()
    assert classpath == "asl_airflow.airflow.triggers.AslHoldTrigger"
    revived = AslHoldTrigger(**kwargs)  # what the triggerer does with the stored trigger

    async def first_event():
        async for event in revived.run():
            return event

    t0 = time.monotonic()
    event = asyncio.run(first_event())
    assert time.monotonic() - t0 >= 1.4
    assert event is not None  # the inner trigger's own event, only later


def test_a_trigger_that_fires_late_is_not_held_more():
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger

    start = datetime.now(UTC)
    held = AslHoldTrigger.wrap(DateTimeTrigger(moment=start + timedelta(seconds=1)), start)

    async def first_event():
        async for event in held.run():
            return event

    t0 = time.monotonic()
    asyncio.run(first_event())
    assert 0.9 <= time.monotonic() - t0 < 2.5
