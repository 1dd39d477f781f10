"""``ActivityStarted`` is stamped when the worker took the task, as AWS writes it, so the time an
activity's TimeoutSeconds ran shows between it and ``ActivityTimedOut`` (the deployment test proves
it on a real triggerer; this pins the stamp's form and the simulated clock's exception)."""

from __future__ import annotations

from asl_airflow.airflow.operators import _started
from asl_airflow.asl import clock


def test_the_claim_moment_is_the_event_timestamp_in_aws_form() -> None:
    event = _started({"workerName": "w1", "at": "2026-12-03T05:07:58.123456+00:00"})
    assert event == {"timestamp": "2026-12-03T05:07:58.123Z", "type": "ActivityStarted",
                     "activityStartedEventDetails": {"workerName": "w1"}}


def test_a_worker_without_a_name_and_an_unreadable_moment() -> None:
    event = _started({"workerName": None, "at": "not a time"})
    assert event["activityStartedEventDetails"] == {}
    assert event["timestamp"].endswith("Z")  # now, since the claim's moment cannot be read


def test_under_a_simulated_clock_the_execution_clock_stamps_it() -> None:
    with clock.use(clock.SimulatedClock(0)):
        event = _started({"workerName": "w1", "at": "2001-01-01T00:00:00+00:00"})
    assert not event["timestamp"].startswith("2001")
