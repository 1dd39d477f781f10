"""The context object (``$$``): what Step Functions tells a state about its execution."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asl_airflow.asl import clock

ACCOUNT = "123456789012"
REGION = "us-east-1"


_STAMP: tuple[int, str] = (-1, "")  # (epoch second, its "%Y-%m-%dT%H:%M:%S" text): one strftime a second


def iso_now() -> str:
    """Timestamps as Step Functions writes them: ISO 8601, UTC, milliseconds, ``Z``. Every event
    takes one, so the date part is formatted once per second (it was a third of a Pass loop's time)."""
    global _STAMP
    now = clock.now()  # the simulated clock of --time-scale, when one is in use
    second = math.floor(now)
    stamp = _STAMP
    if stamp[0] != second:
        stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        _STAMP = stamp
    return f"{stamp[1]}.{min(999, int((now - second) * 1000)):03d}Z"


def iso_at(moment: datetime) -> str:
    """``moment`` as Step Functions writes timestamps (the form of :func:`iso_now`): for a moment
    known apart from the execution's clock, such as a run's start or a worker's claim."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class ExecutionInfo:
    """The parts of ``$$.Execution`` and ``$$.StateMachine`` fixed for a whole execution."""

    input: Any
    name: str = field(default_factory=lambda: str(uuid.uuid4()))
    state_machine_name: str = "StateMachine"
    start_time: str = field(default_factory=iso_now)
    role_arn: str = f"arn:aws:iam::{ACCOUNT}:role/StepFunctionsRole"
    redrive_count: int = 0
    account: str = ACCOUNT
    region: str = REGION

    @property
    def state_machine_arn(self) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{self.state_machine_name}"

    @property
    def execution_arn(self) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:execution:{self.state_machine_name}:{self.name}"

    def context_object(
        self,
        state_name: str,
        entered_time: str | None = None,
        retry_count: int = 0,
        task_token: str | None = None,
        map_item: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The ``$$`` object for one state entry."""
        ctx: dict[str, Any] = {
            "Execution": {
                "Id": self.execution_arn,
                "Input": self.input,
                "StartTime": self.start_time,
                "Name": self.name,
                "RoleArn": self.role_arn,
                "RedriveCount": self.redrive_count,
            },
            "StateMachine": {"Id": self.state_machine_arn, "Name": self.state_machine_name},
            "State": {"EnteredTime": entered_time or iso_now(), "Name": state_name, "RetryCount": retry_count},
        }
        if task_token is not None:
            ctx["Task"] = {"Token": task_token}
        if map_item is not None:
            ctx["Map"] = {"Item": map_item}
        return ctx
