"""A trigger that bounds another trigger: by a Task state's TimeoutSeconds, by the execution's
TimeoutSeconds, and by a failing sibling branch of an enclosing Parallel.

Airflow enforces a deferral's ``timeout`` in the scheduler only (``dag.test()`` runs triggers inline
without it), and the provider's triggers wait as long as their own poll limits say. Wrapping the
provider's trigger (or a Wait's ``DateTimeTrigger``) makes these bounds hold wherever the trigger
runs, and tells the resumed task which one ended the wait:

- ``{TIMEOUT_EVENT: True}``: the state's TimeoutSeconds passed: ``States.Timeout``, which Retry and
  Catch see;
- ``{EXECUTION_TIMEOUT_EVENT: True}``: the state machine's TimeoutSeconds passed: the execution ends
  TIMED_OUT (no Retry, no Catch);
- ``{STOPPED_EVENT: True}``: a branch of an enclosing Parallel failed, so Step Functions stops this
  one (``...StateAborted``). The trigger asks every ``[asl_airflow] stop_poll_interval`` seconds
  (default 2) how many of the watched task instances failed, through the Task SDK
  (:func:`parallel_failed`), as the worker does before each state starts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

TIMEOUT_EVENT = "asl_timeout"
EXECUTION_TIMEOUT_EVENT = "asl_execution_timeout"
STOPPED_EVENT = "asl_stopped"


def stop_poll_interval() -> float:
    """Seconds between two looks at whether a sibling branch failed, while a branch task is deferred."""
    from airflow.sdk.configuration import conf

    return max(conf.getfloat("asl_airflow", "stop_poll_interval", fallback=2.0), 0.05)


def parallel_failed(dag_id: str, run_id: str, map_index: int, watch: list[dict[str, Any]]) -> bool:
    """Whether a branch of an enclosing Parallel failed: one of the watched task instances (the
    branches' own state tasks, a nested Parallel/Map counted through its join, so that a failure it
    caught does not count) ended ``failed``. ``watch``: one entry per enclosing Parallel, its
    ``task_ids`` and whether they are mapped like the asking task (a Parallel inside a Map's items)."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    for watched in watch:
        count = RuntimeTaskInstance.get_ti_count(
            dag_id=dag_id, task_ids=list(watched["task_ids"]), run_ids=[run_id], states=["failed"],
            map_index=map_index if watched.get("mapped") and map_index >= 0 else None)
        if count:
            return True
    return False


class AslDeadlineTrigger(BaseTrigger):
    """Runs ``trigger_classpath(**trigger_kwargs)`` until it fires, ``deadline`` (the state's) or
    ``execution_deadline`` passes, or (``watch``: ``{"dag_id", "run_id", "map_index", "watch"}``) a
    sibling branch fails; ISO-8601 deadlines, either may be None."""

    def __init__(self, trigger_classpath: str, trigger_kwargs: dict[str, Any], deadline: str | None = None,
                 execution_deadline: str | None = None, watch: dict[str, Any] | None = None,
                 poll_interval: float = 2.0) -> None:
        super().__init__()
        self.trigger_classpath = trigger_classpath
        self.trigger_kwargs = trigger_kwargs
        self.deadline = deadline
        self.execution_deadline = execution_deadline
        self.watch = watch
        self.poll_interval = poll_interval

    @classmethod
    def wrap(cls, trigger: BaseTrigger, deadline: datetime | None, execution_deadline: datetime | None = None,
             watch: dict[str, Any] | None = None) -> AslDeadlineTrigger:
        classpath, kwargs = trigger.serialize()
        return cls(classpath, kwargs, deadline.isoformat() if deadline else None,
                   execution_deadline.isoformat() if execution_deadline else None, watch,
                   stop_poll_interval() if watch else 2.0)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__name__}", {
            "trigger_classpath": self.trigger_classpath,
            "trigger_kwargs": self.trigger_kwargs,
            "deadline": self.deadline,
            "execution_deadline": self.execution_deadline,
            "watch": self.watch,
            "poll_interval": self.poll_interval,
        })

    def _ended(self) -> dict[str, Any] | None:
        """The event for a deadline that has passed (the execution's first), else None."""
        now = datetime.now(UTC)
        if self.execution_deadline and now >= datetime.fromisoformat(self.execution_deadline):
            return {EXECUTION_TIMEOUT_EVENT: True, "deadline": self.execution_deadline}
        if self.deadline and now >= datetime.fromisoformat(self.deadline):
            return {TIMEOUT_EVENT: True, "deadline": self.deadline}
        return None

    def _pause(self) -> float | None:
        """How long to wait for the inner trigger before looking again (None: until it fires)."""
        now = datetime.now(UTC)
        left = [(datetime.fromisoformat(d) - now).total_seconds() for d in (self.deadline, self.execution_deadline)
                if d]
        if self.watch:
            left.append(self.poll_interval)
        return max(min(left), 0.0) if left else None

    async def run(self) -> AsyncIterator[TriggerEvent]:
        import importlib

        from asgiref.sync import sync_to_async

        module, _, name = self.trigger_classpath.rpartition(".")
        inner = getattr(importlib.import_module(module), name)(**self.trigger_kwargs)
        events = inner.run()
        pending = asyncio.ensure_future(events.__anext__())
        try:
            while True:
                done, _ = await asyncio.wait({pending}, timeout=self._pause())
                if pending in done:
                    try:
                        event = pending.result()
                    except StopAsyncIteration:
                        return
                    yield event
                    return
                ended = self._ended()
                if ended is not None:
                    yield TriggerEvent(ended)
                    return
                if self.watch and await sync_to_async(parallel_failed)(
                        self.watch["dag_id"], self.watch["run_id"], self.watch["map_index"], self.watch["watch"]):
                    yield TriggerEvent({STOPPED_EVENT: True})
                    return
        finally:
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
            with contextlib.suppress(BaseException):
                await events.aclose()


class AslHoldTrigger(BaseTrigger):
    """Runs ``trigger_classpath(**trigger_kwargs)`` but lets its event out no earlier than ``not_before``.

    A deferral that comes back within a second or two races Airflow's scheduler: the worker that
    deferred reports "success" to the executor, the trigger fires and the task is queued again,
    and only then does the scheduler read that report; LocalExecutor then fails the task ("finished
    with state success, but the task instance's state attribute is queued", apache/airflow#67287,
    #72716). A provider trigger whose job is already done on its first poll fires that fast. Holding
    its event until ``[asl_airflow] min_defer_seconds`` after the deferral gives the scheduler that
    long to read the report; the job itself is not delayed, only the task's resumption.
    """

    def __init__(self, trigger_classpath: str, trigger_kwargs: dict[str, Any], not_before: str) -> None:
        super().__init__()
        self.trigger_classpath = trigger_classpath
        self.trigger_kwargs = trigger_kwargs
        self.not_before = not_before

    @classmethod
    def wrap(cls, trigger: BaseTrigger, not_before: datetime) -> AslHoldTrigger:
        classpath, kwargs = trigger.serialize()
        return cls(classpath, kwargs, not_before.isoformat())

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__name__}", {
            "trigger_classpath": self.trigger_classpath,
            "trigger_kwargs": self.trigger_kwargs,
            "not_before": self.not_before,
        })

    async def run(self) -> AsyncIterator[TriggerEvent]:
        import importlib

        module, _, name = self.trigger_classpath.rpartition(".")
        inner = getattr(importlib.import_module(module), name)(**self.trigger_kwargs)
        events = inner.run()
        try:
            event = await events.__anext__()
        except StopAsyncIteration:
            return
        finally:
            await events.aclose()
        left = (datetime.fromisoformat(self.not_before) - datetime.now(UTC)).total_seconds()
        if left > 0:
            await asyncio.sleep(left)
        yield event
