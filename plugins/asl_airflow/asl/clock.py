"""The execution's clock: real time, or simulated time that skips the waiting (``--time-scale``).

Step Functions writes each event's timestamp from its own clock; a test that runs a one-hour Wait
should not take an hour, yet its history should say an hour passed. A :class:`SimulatedClock`
sleeps ``seconds * scale`` for real and moves its time forward by the full ``seconds``, so the
timestamps (``iso_now``, ``$$.State.EnteredTime``, Wait deadlines, the machine's TimeoutSeconds)
are the ones AWS would have written, whatever the scale. ``scale=0`` does not wait at all.

One clock per process (:func:`use`): the interpreter's threads (racing branches) share it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, overload


class SimulatedClock:
    """Time that advances by what the execution waits for, sleeping only ``scale`` of it."""

    def __init__(self, scale: float, sleep: Callable[[float], None] = time.sleep,
                 real: Callable[[], float] = time.time) -> None:
        if not scale >= 0:
            raise ValueError("the time scale must be a number >= 0")
        self.scale = float(scale)
        self._sleep = sleep
        self._real = real
        self._skipped = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch, on the simulated timeline."""
        with self._lock:
            return self._real() + self._skipped

    def sleep(self, seconds: float) -> None:
        real = self.pass_time(seconds)
        if real > 0:
            self._sleep(real)

    def pass_time(self, seconds: float) -> float:
        """Start a wait of ``seconds``: simulated time moves by the part not waited for real, and
        the real seconds left to wait (``scale`` of them) are returned, for a caller that sleeps
        its own way (e.g. in slices, watching for a reason to stop)."""
        seconds = max(0.0, float(seconds))
        real = seconds * self.scale
        with self._lock:
            self._skipped += seconds - real
        return real

    def advance_to(self, epoch: float) -> None:
        """Move simulated time forward to ``epoch`` if it is behind (never backward): a wait that
        ended early in real time ends at its simulated moment."""
        with self._lock:
            self._skipped = max(self._skipped, float(epoch) - self._real())


_CURRENT: SimulatedClock | None = None


def now() -> float:
    """The current execution clock in epoch seconds (real time unless a simulated clock is in use)."""
    clock = _CURRENT
    return clock.now() if clock is not None else time.time()


def utcnow() -> datetime:
    return datetime.fromtimestamp(now(), UTC)


def current() -> SimulatedClock | None:
    """The simulated clock in use, or None (real time)."""
    return _CURRENT


@overload
def real_moment(moment: datetime) -> datetime: ...
@overload
def real_moment(moment: None) -> None: ...
def real_moment(moment: datetime | None) -> datetime | None:
    """When, in real time, the simulated ``moment`` is to be waited for: ``scale`` of the way there
    (``moment`` itself on real time; None stays None, a deadline the execution does not have).
    Airflow's triggers, reschedules and retry dates take this."""
    clock = _CURRENT
    if clock is None or moment is None:
        return moment
    left = max(0.0, (moment - utcnow()).total_seconds())
    return datetime.now(UTC) + timedelta(seconds=left * clock.scale)


def scaled(seconds: float) -> float:
    """A delay as waited for real (a retry's IntervalSeconds): ``seconds * scale``."""
    clock = _CURRENT
    return float(seconds) if clock is None else float(seconds) * clock.scale


def arrive(moment: datetime) -> None:
    """A wait for the simulated ``moment`` is over: simulated time is at least ``moment``."""
    clock = _CURRENT
    if clock is not None:
        clock.advance_to(moment.timestamp())


@contextmanager
def use(clock: SimulatedClock | None) -> Any:
    """Make ``clock`` the process's execution clock for the duration of a run."""
    global _CURRENT
    previous, _CURRENT = _CURRENT, clock
    try:
        yield clock
    finally:
        _CURRENT = previous
