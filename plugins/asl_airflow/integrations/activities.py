"""Step Functions activities: a Task whose Resource is ``arn:aws:states:<region>:<account>:activity:<name>``.

On AWS such a Task does no service call: it is offered to whichever activity worker asks for work
(``GetActivityTask``, a long poll), and it ends when that worker reports back with the task token
the poll handed it (``SendTaskSuccess`` / ``SendTaskFailure``; ``SendTaskHeartbeat`` while it works).
Here:

- :func:`_start` offers the task: it records ``{activity, input, id, scheduled}`` as the waiting task
  instance's XCom :data:`ACTIVITY_KEY` (the queue the API reads; the input is what the
  ``ActivityScheduled`` event shows anyway), forgets the token of an earlier attempt, and defers on
  :class:`~asl_airflow.integrations._activity_trigger.ActivityTrigger` (no worker slot while waiting).
- ``GetActivityTask`` (``asl_airflow.airflow.callback_api``, on Airflow's API server) claims the oldest
  offered task of that activity the caller may edit: it issues the token there and then (the same
  self-locating format as ``.waitForTaskToken`` tokens), keeps only its SHA-256 (the task's
  ``task_state_store`` key ``asl_task_token``, where SendTask* checks it), and records the claim
  (``workerName``, time, digest) in the XCom, so the task is offered to no one else.
- The trigger sees the claim, then waits exactly as a ``.waitForTaskToken`` wait does for the answer,
  with TimeoutSeconds and HeartbeatSeconds counted from the claim: on AWS an activity Task's clocks
  start at ``ActivityStarted`` (a Task nobody polls for stays ``ActivityScheduled``; the state
  machine's own TimeoutSeconds bounds that).
- :func:`_resume` is the answer: the worker's output, or its error (Retry and Catch apply), or
  ``States.Timeout`` / ``States.HeartbeatTimeout``. The operator writes ``ActivityStarted`` (with the
  worker's name, stamped at the claim's moment) from the event before ``ActivitySucceeded`` /
  ``ActivityFailed`` / ``ActivityTimedOut``.

The local engine has no API for a worker to poll, so an activity Task fails there with
``States.Runtime`` (as a ``.waitForTaskToken`` Task does), and so does one inside a part Airflow runs
through the reference interpreter (a loop, a Map lane).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from asl_airflow.asl import errors as asl_errors
from asl_airflow.asl.errors import AslError
from asl_airflow.integrations.base import REQUEST_RESPONSE, Integration, ServiceCall
from asl_airflow.integrations.callbacks import DEFAULT_POLL_INTERVAL, TOKEN_KEY, WAIT_METHOD, outcome

#: XCom key (on the waiting task instance): the offered task, and its claim once a worker took it
ACTIVITY_KEY = "asl_activity"


def _start(call: ServiceCall, context: Any) -> Any:
    if not call.deferrable:
        raise AslError(
            asl_errors.RUNTIME,
            f"{call.resource}: an activity Task waits until an activity worker asks Airflow's API server for "
            "work (GetActivityTask), so it runs only as its own deferrable task of a deployed DAG: not on the "
            "local engine, nor inside a part Airflow runs through the reference interpreter (a loop, a Map "
            "lane). Deploy the DAG (asl_dag) and point the worker at the API server's /asl-airflow, or mock "
            "the state (--mock-config).",
        )
    from airflow.sdk.configuration import conf
    from airflow.sdk.exceptions import TaskDeferred

    from asl_airflow.integrations._activity_trigger import ActivityTrigger

    ti = context["ti"]
    index = getattr(ti, "map_index", None)
    index = index if isinstance(index, int) and index >= 0 else -1
    # the token a worker got for an earlier attempt (or an earlier run of this one) no longer
    # matches: SendTask* answers it TaskTimedOut, as AWS does for a task that has ended
    context["task_state_store"].delete(TOKEN_KEY)
    offer = {"activity": call.resource, "input": call.parameters, "id": uuid.uuid4().hex,
             "scheduled": datetime.now(UTC).isoformat(), "started": None}
    ti.xcom_push(key=ACTIVITY_KEY, value=offer)
    trigger = ActivityTrigger(
        dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=index, activity_id=offer["id"],
        timeout_seconds=call.extra.get("timeout_seconds"), heartbeat_seconds=call.extra.get("heartbeat_seconds"),
        poll_interval=conf.getfloat("asl_airflow", "task_token_poll_interval", fallback=DEFAULT_POLL_INTERVAL),
    )
    raise TaskDeferred(trigger=trigger, method_name=WAIT_METHOD)


def _resume(call: ServiceCall, context: Any, method_name: str, event: Any) -> Any:
    if method_name != WAIT_METHOD:
        raise AslError(asl_errors.RUNTIME, f"{call.resource} cannot resume {method_name!r}")
    return outcome(event)


ENTRIES = (
    Integration(service="activity", action="*", patterns=frozenset({REQUEST_RESPONSE}), error_prefix="States",
                start=_start, resume=_resume),
)

__all__ = ["ACTIVITY_KEY", "ENTRIES"]
