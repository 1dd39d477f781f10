"""Parallel branches and Map iterations that run concurrently in effect, and stop on the first failure.

Step Functions runs a Parallel state's branches (and a Map state's iterations) at the same time and,
when one fails, stops the others at once: their current Task, Wait, Parallel or Map state is
recorded ``...StateAborted`` (a Map iteration also ``MapIterationAborted``). The "either-or" pattern
relies on it: a branch that fails as soon as a polled process is done ends the Parallel while a
sibling branch still waits out a timeout.

The reference interpreter is synchronous code, so :func:`race` runs each branch that *can* wait in a
thread of its own, but lets exactly one thread run at a time (the *turn*), in a deterministic order:

- branches start in index order; each runs until it ends, fails or would wait (a Wait state, a retry
  delay): then it hands the turn back with the seconds it wants to wait;
- when no branch can run, the one whose wait ends first (on a virtual clock that starts with the
  race; ties in the order they started waiting) gets the turn after the enclosing code waited the
  difference: the real ``sleep`` at the top level, or the enclosing branch's own turn when races nest;
- the first failure stops every waiting branch (each unwinds through :class:`BranchStopped`,
  writing its aborted events) and is raised; branches not started yet never start.

A branch that cannot wait (no Wait state, no Retry anywhere inside) runs inline, so machines that
never wait keep the exact sequential history they always had, without a thread. A service call is
not a point where the turn passes: it runs to its end in its branch's turn, which keeps the history
deterministic (its TimeoutSeconds and the execution's bound it).
"""

from __future__ import annotations

import heapq
import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

#: the racing branch the current thread runs, if any (read by ``Interpreter.wait``)
_TURN = threading.local()

#: AWS runs at most this many inline Map iterations at the same time, whatever MaxConcurrency says
INLINE_MAP_CONCURRENCY = 40


class BranchStopped(Exception):  # noqa: N818 - a control signal, like StopIteration
    """Raised inside a waiting branch when the race stops it. ``quiet``: the execution itself ends
    (aborted, timed out): no ``...StateAborted`` events, as AWS writes none then."""

    def __init__(self, quiet: bool = False) -> None:
        super().__init__("branch stopped")
        self.quiet = quiet


def current_branch() -> _Branch | None:
    """The racing branch the calling thread runs, or None outside a race."""
    return getattr(_TURN, "branch", None)


def can_wait(machine: Any) -> bool:
    """Whether a (sub-)machine holds a Wait state or a Retry anywhere, so a branch running it may
    hand over its turn; a machine with neither runs inline."""
    if isinstance(machine, dict):
        if machine.get("Type") == "Wait" or machine.get("Retry"):
            return True
        return any(can_wait(value) for value in machine.values())
    if isinstance(machine, list):
        return any(can_wait(value) for value in machine)
    return False


class _Branch:
    """One racing branch: a thread that runs only while it holds the turn."""

    def __init__(self, reports: queue.SimpleQueue[tuple[_Branch, str, Any]], index: int,
                 job: Callable[[], Any]) -> None:
        self.index = index
        self.job = job
        self.stop: BranchStopped | None = None
        self._reports = reports
        self._go = threading.Semaphore(0)
        self._thread = threading.Thread(target=self._main, name=f"asl-branch-{index}", daemon=True)

    def _main(self) -> None:
        _TURN.branch = self
        self._go.acquire()
        try:
            value = self.job()
        except BaseException as exc:  # noqa: BLE001 - handed to the thread that runs the race
            self._reports.put((self, "raised", exc))
        else:
            self._reports.put((self, "done", value))

    def turn(self) -> tuple[str, Any]:
        """Let this branch run until it hands the turn back; returns ``(what, value)``."""
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()
        self._go.release()
        branch, what, value = self._reports.get()
        assert branch is self
        if what != "blocked":
            self._thread.join()
        return what, value

    def block(self, seconds: float) -> None:
        """Called in this branch's thread: hand the turn back until ``seconds`` have passed on the
        race's clock; raises :class:`BranchStopped` when the race stops this branch instead."""
        self._reports.put((self, "blocked", seconds))
        self._go.acquire()
        if self.stop is not None:
            raise self.stop


def race(jobs: Sequence[Callable[[], Any]], waits: Sequence[bool], wait: Callable[[float], None],
         limit: int = 0) -> list[Any]:
    """Run ``jobs`` (one per branch or iteration) as described in the module docstring; returns
    their results in order, or raises the first failure. ``waits[i]``: job i may wait (else it
    runs inline); ``wait(seconds)``: how the calling thread waits; ``limit``: at most this many
    branches in flight (0: no limit)."""
    reports: queue.SimpleQueue[tuple[_Branch, str, Any]] = queue.SimpleQueue()
    results: list[Any] = [None] * len(jobs)
    pending = deque(range(len(jobs)))
    waiting: list[tuple[float, int, int, _Branch]] = []  # (wake, order, index, branch)
    now = 0.0
    order = 0
    in_flight = 0
    try:
        while pending or waiting:
            if pending and (limit <= 0 or in_flight < limit):
                index = pending.popleft()
                if not waits[index]:
                    try:
                        results[index] = jobs[index]()
                    except BaseException as exc:
                        _stop(waiting, BranchStopped(quiet=not _is_branch_failure(exc)))
                        raise
                    continue
                branch = _Branch(reports, index, jobs[index])
                in_flight += 1
            else:
                wake, _, _, branch = waiting[0]
                if wake > now:
                    wait(wake - now)
                    now = wake
                heapq.heappop(waiting)
            what, value = branch.turn()
            if what == "blocked":
                order += 1
                heapq.heappush(waiting, (now + max(float(value or 0), 0.0), order, branch.index, branch))
                continue
            in_flight -= 1
            if what == "done":
                results[branch.index] = value
                continue
            _stop(waiting, BranchStopped(quiet=not _is_branch_failure(value)))
            raise value
    except BranchStopped as stopped:  # an enclosing race stops the branch this race runs in
        _stop(waiting, stopped)
        raise
    except BaseException:
        _stop(waiting, BranchStopped(quiet=True))
        raise
    return results


def _is_branch_failure(exc: BaseException) -> bool:
    from asl_airflow.asl.interpreter import BranchFailed

    return isinstance(exc, BranchFailed)


def _stop(waiting: list[tuple[float, int, int, _Branch]], stop: BranchStopped) -> None:
    """Stop every waiting branch, in branch order; each writes its aborted events as it unwinds."""
    for _, _, _, branch in sorted(waiting, key=lambda entry: entry[2]):
        branch.stop = stop
        branch.turn()
    waiting.clear()
