"""The trigger a ``.waitForTaskToken`` Task defers on (see :mod:`asl_airflow.integrations.callbacks`).

It runs in the triggerer (or inline under ``dag.test()``), where a trigger reaches Airflow's data
only through the Task SDK's supervisor: it reads the XCom the callback API writes for the waiting
task instance, every ``poll_interval`` seconds, and fires on the first of: a SendTaskSuccess or
SendTaskFailure result, HeartbeatSeconds without a heartbeat, TimeoutSeconds since the call. On a
timeout it records the token as spent, so a late callback is answered TaskTimedOut as on AWS.

Kept apart from ``callbacks`` (and private to the integrations table, which skips ``_`` modules)
because a trigger class must subclass Airflow's ``BaseTrigger`` at import time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from asl_airflow.integrations.callbacks import (
    FINAL,
    HEARTBEAT_TIMED_OUT,
    RESULT_KEY,
    TIMED_OUT,
)


class TaskTokenTrigger(BaseTrigger):
    """Waits for the callback of one task token (identified by its SHA-256) on one task instance."""

    def __init__(
        self,
        *,
        dag_id: str,
        run_id: str,
        task_id: str,
        map_index: int,
        token_sha256: str,
        started_at: str,
        timeout_seconds: float | None = None,
        heartbeat_seconds: float | None = None,
        poll_interval: float = 2.0,
    ) -> None:
        super().__init__()
        self.dag_id = dag_id
        self.run_id = run_id
        self.target_task_id = task_id  # BaseTrigger owns ``task_id``
        self.map_index = map_index
        self.token_sha256 = token_sha256
        self.started_at = started_at
        self.timeout_seconds = timeout_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            "dag_id": self.dag_id, "run_id": self.run_id, "task_id": self.target_task_id,
            "map_index": self.map_index, "token_sha256": self.token_sha256, "started_at": self.started_at,
            "timeout_seconds": self.timeout_seconds, "heartbeat_seconds": self.heartbeat_seconds,
            "poll_interval": self.poll_interval,
        }

    # -- the XCom channel (sync SDK calls, run off the event loop) ---------------------------------

    def _where(self) -> dict[str, Any]:
        return {"dag_id": self.dag_id, "run_id": self.run_id, "task_id": self.target_task_id,
                "map_index": self.map_index}

    def _read(self) -> dict[str, Any] | None:
        from airflow.sdk.execution_time.xcom import XCom

        value = XCom.get_one(key=RESULT_KEY, **self._where())
        if isinstance(value, dict) and value.get("token") == self.token_sha256:
            return value
        return None

    def _spend(self, status: str) -> dict[str, Any]:
        """Record a timeout unless a result arrived meanwhile; returns the record that stands."""
        from airflow.sdk.execution_time.xcom import XCom

        current = self._read()
        if current and current.get("status") in FINAL:
            return current
        record = {"token": self.token_sha256, "status": status, "at": datetime.now(UTC).isoformat()}
        XCom.set(RESULT_KEY, record, **self._where())
        return record

    # -- the wait ---------------------------------------------------------------------------------

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from asgiref.sync import sync_to_async

        started = datetime.fromisoformat(self.started_at)
        deadline = started + timedelta(seconds=self.timeout_seconds) if self.timeout_seconds else None
        last_beat = started
        while True:
            record = await sync_to_async(self._read)()
            if record and record.get("status") in FINAL:
                yield TriggerEvent(record)
                return
            if record and record.get("heartbeat"):
                last_beat = max(last_beat, datetime.fromisoformat(record["heartbeat"]))
            now = datetime.now(UTC)
            beat_deadline = (last_beat + timedelta(seconds=self.heartbeat_seconds)
                             if self.heartbeat_seconds else None)
            expired = None
            if deadline is not None and now >= deadline:
                expired = TIMED_OUT
            elif beat_deadline is not None and now >= beat_deadline:
                expired = HEARTBEAT_TIMED_OUT
            if expired:
                self.log.info("task token %s…: %s", self.token_sha256[:12], expired)
                yield TriggerEvent(await sync_to_async(self._spend)(expired))
                return
            nearest = min((d for d in (deadline, beat_deadline) if d is not None), default=None)
            pause = self.poll_interval
            if nearest is not None:
                pause = min(pause, max((nearest - now).total_seconds(), 0.05))
            await asyncio.sleep(pause)
