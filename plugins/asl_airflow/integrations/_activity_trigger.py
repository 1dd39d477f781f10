"""The trigger an activity Task defers on (see :mod:`asl_airflow.integrations.activities`).

First it waits for a worker to claim the offered task: ``GetActivityTask`` records the claim
(``workerName``, time, the SHA-256 of the token it issued) in the task instance's XCom
``asl_activity``. From then on it is a :class:`TaskTokenTrigger` for that token, its
TimeoutSeconds and HeartbeatSeconds counted from the claim, as AWS counts them from
``ActivityStarted``. Its events carry the claim (``started``) so the task can write
``ActivityStarted`` in the history. Before a claim no clock of the Task runs; the operator's
guard still ends the wait at the state machine's TimeoutSeconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TriggerEvent

from asl_airflow.integrations._callback_trigger import TaskTokenTrigger
from asl_airflow.integrations.activities import ACTIVITY_KEY


class ActivityTrigger(TaskTokenTrigger):
    """Waits for a worker to take one offered activity task (``activity_id``), then for its answer."""

    def __init__(self, *, activity_id: str, token_sha256: str = "", started_at: str = "", **kwargs: Any) -> None:
        super().__init__(token_sha256=token_sha256, started_at=started_at, **kwargs)
        self.activity_id = activity_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        path, kwargs = super().serialize()
        return path, {**kwargs, "activity_id": self.activity_id}

    def _claim(self) -> dict[str, Any] | None:
        """The claim of this offer, once a worker took it (``{"workerName", "at", "token"}``)."""
        from airflow.sdk.execution_time.xcom import XCom

        offer = XCom.get_one(key=ACTIVITY_KEY, **self._where())
        if isinstance(offer, dict) and offer.get("id") == self.activity_id and isinstance(offer.get("started"), dict):
            return offer["started"]
        return None

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from asgiref.sync import sync_to_async

        claim = None
        while claim is None:
            claim = await sync_to_async(self._claim)()
            if claim is None:
                await asyncio.sleep(self.poll_interval)
        self.token_sha256, self.started_at = claim["token"], claim["at"]
        started = {"workerName": claim.get("workerName"), "at": claim["at"]}
        async for event in super().run():
            yield TriggerEvent({**event.payload, "started": started})
