"""``.waitForTaskToken``: make the service call, then wait until someone reports back with the token.

Step Functions hands ``$$.Task.Token`` to the service (an SQS message, a Lambda payload, ...) and
pauses the Task until an external system calls SendTaskSuccess, SendTaskFailure or
SendTaskHeartbeat with that token. Here:

- :func:`new_task_token` issues the token when the Task state starts an attempt. It names the waiting
  task instance (dag_id, run_id, task_id, map_index, try) so the API can find it, plus a random part
  so it cannot be guessed; only its SHA-256 is kept, in the task's ``task_state_store``.
- :func:`wait_for_task_token` wraps ANY integration entry whose Resource ends in ``.waitForTaskToken``
  (``integrations.resolve`` applies it): start = the entry's request-response call, then defer on
  :class:`~asl_airflow.integrations._callback_trigger.TaskTokenTrigger` (no worker slot while waiting).
  The call is made at most once per ASL attempt: it is journaled (pending before, sent after) and a
  re-run of the attempt after a worker crash keeps the token and waits without calling again; a
  crash *during* the call is not repeated either (the service may have the token already), except
  to an SQS FIFO queue, whose deduplication drops a repeat;
  resume = the output sent with SendTaskSuccess, or the error sent with SendTaskFailure as an
  :class:`AslError`, so Retry and Catch apply as on AWS.
- The API (``asl_airflow.airflow.callback_api``, served by Airflow's API server) checks the token
  and records what it received as the task instance's XCom :data:`RESULT_KEY`; the trigger reads that
  XCom through the Task SDK (the one channel both ``dag.test()`` and the triggerer give a trigger),
  and enforces HeartbeatSeconds (``States.HeartbeatTimeout``) and TimeoutSeconds (``States.Timeout``).

The local engine has no API to call back, so a ``.waitForTaskToken`` Task fails there with a
``States.Runtime`` error that says to use the Airflow engine (before any service call is made); so
does one inside a part of a DAG that Airflow runs through the reference interpreter (call.deferrable
is False there too).

This module is imported by the integrations table: it imports neither Airflow nor boto3 at import time.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from asl_airflow.asl import errors as asl_errors
from asl_airflow.asl.errors import AslError
from asl_airflow.integrations.base import REQUEST_RESPONSE, Integration, ServiceCall

#: task_state_store key holding ``{"sha256", "try_number"}`` of the current attempt's token
TOKEN_KEY = "asl_task_token"
#: XCom key (on the waiting task instance) where the API records heartbeats and the result
RESULT_KEY = "asl_task_token"
#: the method name the wrapped entry's ``resume`` recognises after the wait
WAIT_METHOD = "task_token"

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
TIMED_OUT = "TIMED_OUT"
HEARTBEAT_TIMED_OUT = "HEARTBEAT_TIMED_OUT"
#: statuses after which the token is spent (a later call gets TaskTimedOut)
FINAL = frozenset({SUCCEEDED, FAILED, TIMED_OUT, HEARTBEAT_TIMED_OUT})

_VERSION = "v1"
#: how often the trigger looks for a callback (seconds); ``[asl_airflow] task_token_poll_interval``
DEFAULT_POLL_INTERVAL = 2.0


class InvalidTaskToken(ValueError):  # noqa: N818 - Step Functions' error name is InvalidToken
    """The string is not a task token this plugin issued (Step Functions: ``InvalidToken``)."""


@dataclasses.dataclass(frozen=True)
class TokenTarget:
    """The task instance attempt a token belongs to."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_task_token(target: TokenTarget, secret: str) -> str:
    """``v1.<base64url JSON of the attempt>.<random>``: self-locating, and unguessable by its random part."""
    ids = [target.dag_id, target.run_id, target.task_id, target.map_index, target.try_number]
    return f"{_VERSION}.{_b64(json.dumps(ids, separators=(',', ':')).encode())}.{secret}"


def parse_task_token(token: str) -> TokenTarget:
    """The attempt a token names; :class:`InvalidTaskToken` when it is not one of ours."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3 or parts[0] != _VERSION or len(parts[2]) < 32:
        raise InvalidTaskToken("Invalid Token: not a task token issued by asl-airflow")
    try:
        ids = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        dag_id, run_id, task_id, map_index, try_number = ids
        if not all(isinstance(v, str) for v in (dag_id, run_id, task_id)):
            raise ValueError("ids must be strings")
        if not isinstance(map_index, int) or not isinstance(try_number, int):
            raise ValueError("map_index and try_number must be integers")
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidTaskToken(f"Invalid Token: {exc}") from None
    return TokenTarget(dag_id, run_id, task_id, map_index, try_number)


def token_digest(token: str) -> str:
    """What is stored instead of the token: the DB never holds a usable token of this module's."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_task_token(context: Any) -> str:
    """``$$.Task.Token`` for this attempt of the running task; its digest goes to ``task_state_store``.

    A fresh token per attempt, as Step Functions issues one per attempt: a callback for an earlier
    attempt then finds a newer try and is answered TaskTimedOut.
    """
    ti = context["ti"]
    map_index = getattr(ti, "map_index", -1)
    target = TokenTarget(ti.dag_id, ti.run_id, ti.task_id, -1 if map_index is None else int(map_index),
                         int(ti.try_number))
    token = encode_task_token(target, secrets.token_urlsafe(32))
    context["task_state_store"].set(TOKEN_KEY, {"sha256": token_digest(token), "try_number": target.try_number})
    return token


# -- the wait, wrapped around any entry ----------------------------------------------------------


def wait_for_task_token(entry: Integration) -> Integration:
    """``entry`` with the ``.waitForTaskToken`` behaviour: its request-response call, then the callback."""
    return dataclasses.replace(
        entry,
        start=lambda call, context: _start(entry, call, context),
        resume=lambda call, context, method_name, event: _resume(entry, call, context, method_name, event),
    )


def _start(entry: Integration, call: ServiceCall, context: Any) -> Any:
    if not call.deferrable:
        raise AslError(
            asl_errors.RUNTIME,
            f"{call.resource}: .waitForTaskToken needs its own deferrable Airflow task (the answer arrives "
            "through Airflow's API server), so it cannot run synchronously: not on the local engine, nor "
            "inside a part Airflow runs through the reference interpreter (a loop, a Map lane). "
            "Run with engine='airflow' (CLI: --engine airflow) or deploy the DAG.",
        )
    token = call.extra.get("task_token")
    if not token:
        raise AslError(asl_errors.RUNTIME, f"{call.resource}: no $$.Task.Token was issued for this call")
    from airflow.sdk.exceptions import TaskDeferred

    journal = call.journal
    record = (journal.get() if journal is not None else None) or {}
    if record.get("sent"):  # a re-run after a worker crash: the service has this attempt's token
        started = datetime.fromisoformat(record["sent"])
    else:
        if record.get("pending") and not _deduplicated(call):
            # the worker died during the call: the service may or may not have the token. Sending
            # it again could deliver it twice, so this attempt waits for the one it may have sent
            # (at most once; TimeoutSeconds/HeartbeatSeconds bound the wait if it never arrived)
            started = datetime.fromisoformat(record["pending"])
            journal.set(sent=record["pending"], unsure=True)  # type: ignore[union-attr]
            raise TaskDeferred(trigger=_trigger(call, token, started), method_name=WAIT_METHOD,
                               timeout=_safety_timeout(call))
        started = datetime.now(UTC)
        if journal is not None:
            journal.set(pending=started.isoformat())
        try:
            entry.start(dataclasses.replace(call, pattern=REQUEST_RESPONSE, journal=None), context)
        except TaskDeferred:
            raise AslError(
                asl_errors.RUNTIME,
                f"{call.service}:{call.action} waits for a job even as a request-response call, "
                "so it cannot also wait for a task token",
            ) from None
        if journal is not None:
            journal.set(sent=started.isoformat())
    raise TaskDeferred(trigger=_trigger(call, token, started), method_name=WAIT_METHOD,
                       timeout=_safety_timeout(call))


def _deduplicated(call: ServiceCall) -> bool:
    """Whether sending the call again is harmless: an SQS FIFO queue drops a message whose
    deduplication id (given, or the body's hash with content-based deduplication; the body holds
    this attempt's token either way) it saw in the last five minutes."""
    parameters = call.parameters if isinstance(call.parameters, dict) else {}
    return call.service == "sqs" and str(parameters.get("QueueUrl", "")).endswith(".fifo")


def _trigger(call: ServiceCall, token: str, started: datetime) -> Any:
    from airflow.sdk.configuration import conf

    from asl_airflow.integrations._callback_trigger import TaskTokenTrigger

    target = parse_task_token(token)
    return TaskTokenTrigger(
        dag_id=target.dag_id, run_id=target.run_id, task_id=target.task_id, map_index=target.map_index,
        token_sha256=token_digest(token), started_at=started.isoformat(),
        timeout_seconds=call.extra.get("timeout_seconds"), heartbeat_seconds=call.extra.get("heartbeat_seconds"),
        poll_interval=conf.getfloat("asl_airflow", "task_token_poll_interval", fallback=DEFAULT_POLL_INTERVAL),
    )


def _safety_timeout(call: ServiceCall) -> timedelta | None:
    """Airflow's own trigger timeout, a minute after TimeoutSeconds: only if the trigger never ran.

    The trigger reports TimeoutSeconds itself (so Retry/Catch see ``States.Timeout``); Airflow's
    timeout fails the task without passing through the state's Retry/Catch, hence the margin.
    """
    seconds = call.extra.get("timeout_seconds")
    return timedelta(seconds=float(seconds) + 60) if seconds else None


def _resume(entry: Integration, call: ServiceCall, context: Any, method_name: str, event: Any) -> Any:
    if method_name != WAIT_METHOD:
        raise AslError(asl_errors.RUNTIME, f"{call.resource} cannot resume {method_name!r}")
    return outcome(event)


def outcome(event: Any) -> Any:
    """The Task's result for the trigger's event: the sent output, or the sent/timeout error raised."""
    status = event.get("status") if isinstance(event, dict) else None
    if status == SUCCEEDED:
        return event.get("output")
    if status == FAILED:
        return _raise(event.get("error") or "", event.get("cause"))
    if status == TIMED_OUT:
        return _raise(asl_errors.TIMEOUT, None)
    if status == HEARTBEAT_TIMED_OUT:
        return _raise(asl_errors.HEARTBEAT_TIMEOUT, None)
    raise AslError(asl_errors.RUNTIME, f"unexpected task token event {event!r}")


def _raise(error: str, cause: str | None) -> Any:
    raise AslError(error, cause)


__all__ = [
    "FAILED", "FINAL", "HEARTBEAT_TIMED_OUT", "RESULT_KEY", "SUCCEEDED", "TIMED_OUT", "TOKEN_KEY",
    "InvalidTaskToken", "TokenTarget", "encode_task_token", "new_task_token", "outcome", "parse_task_token",
    "token_digest", "wait_for_task_token",
]
