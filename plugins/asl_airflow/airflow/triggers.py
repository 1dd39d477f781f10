"""A trigger that bounds another trigger by a Task state's TimeoutSeconds.

Airflow enforces a deferral's ``timeout`` in the scheduler only (``dag.test()`` runs triggers inline
without it), and the provider's triggers wait as long as their own poll limits say. Wrapping the
provider's trigger makes TimeoutSeconds hold wherever the trigger runs, and lets the state report
``States.Timeout`` so Retry and Catch see it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

TIMEOUT_EVENT = "asl_timeout"


class AslDeadlineTrigger(BaseTrigger):
    """Runs ``trigger_classpath(**trigger_kwargs)`` until it fires or ``deadline`` passes."""

    def __init__(self, trigger_classpath: str, trigger_kwargs: dict[str, Any], deadline: str) -> None:
        super().__init__()
        self.trigger_classpath = trigger_classpath
        self.trigger_kwargs = trigger_kwargs
        self.deadline = deadline

    @classmethod
    def wrap(cls, trigger: BaseTrigger, deadline: datetime) -> AslDeadlineTrigger:
        classpath, kwargs = trigger.serialize()
        return cls(classpath, kwargs, deadline.isoformat())

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__name__}", {
            "trigger_classpath": self.trigger_classpath,
            "trigger_kwargs": self.trigger_kwargs,
            "deadline": self.deadline,
        })

    async def run(self) -> AsyncIterator[TriggerEvent]:
        import importlib

        module, _, name = self.trigger_classpath.rpartition(".")
        inner = getattr(importlib.import_module(module), name)(**self.trigger_kwargs)
        left = (datetime.fromisoformat(self.deadline) - datetime.now(UTC)).total_seconds()
        events = inner.run()
        try:
            event = await asyncio.wait_for(events.__anext__(), timeout=max(left, 0.0))
        except TimeoutError:
            yield TriggerEvent({TIMEOUT_EVENT: True, "deadline": self.deadline})
            return
        except StopAsyncIteration:
            return
        finally:
            await events.aclose()
        yield event
