"""What a Task's Resource means: the shape of one integration entry.

An entry starts a service call through the Amazon provider (an operator, or a hook where the
operator drops what Step Functions returns), may defer while AWS works, and turns the provider's
answer into the output Step Functions would produce. Entries never poll AWS by hand: waiting is
the provider's waiters and triggers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asl_airflow.integrations.resources import (  # noqa: F401 - re-exported
    REQUEST_RESPONSE,
    SYNC,
    WAIT_FOR_TASK_TOKEN,
    parse_resource,
)


@dataclass
class ServiceCall:
    """One call of a Task's Resource with its rendered parameters."""

    resource: str
    service: str
    action: str
    pattern: str
    parameters: Any
    aws_conn_id: str = "aws_default"
    region_name: str | None = None
    deferrable: bool = True
    task_id: str = "asl_task"
    state_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    #: this ASL attempt's record of its submission (Airflow engine); None in the local engine
    journal: CallJournal | None = None

    @property
    def attempt_token(self) -> str | None:
        """A token unique to this ASL attempt and the same on every re-run of it: the idempotency
        token (Athena ClientRequestToken, EMR Serverless clientToken) or the default name of what
        the attempt starts. None where nothing persists between runs (the local engine)."""
        return self.journal.token if self.journal is not None else None


@dataclass
class CallJournal:
    """What one ASL attempt of a Task asked AWS to start, kept in the task's ``task_state_store``.

    A worker can die between a service's answer and the task's deferral; Airflow then runs the
    task again, and without a record the job would be submitted a second time. An entry marks
    the submission *pending* before the call and records the job id right after it; a re-run of
    the same attempt finds the record and reconnects (by the id, or, when only the pending mark
    made it, by the service's idempotency token or a lookup). A record from an earlier attempt
    is ignored: an ASL retry submits anew, as Step Functions does.
    """

    store: Any  # the task's task_state_store (get/set)
    attempt: int
    token: str
    key: str = "asl_call"

    def get(self) -> dict[str, Any] | None:
        record = self.store.get(self.key)
        return record if isinstance(record, dict) and record.get("attempt") == self.attempt else None

    def set(self, **fields: Any) -> None:
        self.store.set(self.key, {**(self.get() or {}), **fields, "attempt": self.attempt})


def submit_once(call: ServiceCall, submit: Callable[[], Any],
                find: Callable[[dict[str, Any]], Any] | None = None) -> Any:
    """The job id of this ASL attempt: the recorded one, the one ``find`` locates for a submission
    that was pending when the worker died, or ``submit()``'s (recorded before it is used).

    ``find(record)`` gets the pending record (``{"pending": <ISO time just before the call>}``)
    and returns the job's id or None when the service never got the call. Without ``find`` a
    pending submission is made again: right only where ``submit`` is idempotent (a client token
    derived from the attempt, a fixed name the service refuses twice).
    """
    journal = call.journal
    if journal is None:
        return submit()
    record = journal.get() or {}
    if record.get("id") is not None:
        return record["id"]
    if record.get("pending") and find is not None:
        found = find(record)
        if found is not None:
            journal.set(id=found)
            return found
    from datetime import UTC, datetime

    journal.set(pending=record.get("pending") or datetime.now(UTC).isoformat())
    job_id = submit()
    journal.set(id=job_id)
    return job_id


def sync_job(call: ServiceCall, submit: Callable[[], Any], trigger: Callable[[Any], Any],
             wait: Callable[[Any], None], read: Callable[[Any], Any]) -> Any:
    """A ``.sync`` job of a service waited for by a waiter (MediaConvert, CodeBuild): ``submit()``
    once per ASL attempt (:func:`submit_once`), then, on Airflow, defer on ``trigger(job_id)`` (the
    Task resumes in the entry's ``resume``); on the local engine ``wait(job_id)`` in the worker and
    answer ``read(job_id)``."""
    job_id = submit_once(call, submit=submit)
    if call.deferrable:
        from airflow.sdk.exceptions import TaskDeferred

        raise TaskDeferred(trigger=trigger(job_id), method_name="execute_complete")
    wait(job_id)
    return read(job_id)


def reentered(call: ServiceCall) -> bool:
    """Whether this ASL attempt already got as far as a submission in an earlier (crashed) run."""
    return call.journal is not None and call.journal.get() is not None


@dataclass(frozen=True)
class Integration:
    """A table entry: how to start a call, resume it after a deferral and shape its output.

    ``start(call, context)`` returns the Step Functions-shaped result, or raises the provider's
    ``TaskDeferred`` while AWS works; ``resume(call, context, method_name, event)`` finishes it.
    ``error_prefix`` names service errors as Step Functions does (``Lambda.ServiceException``).
    """

    service: str
    action: str
    patterns: frozenset[str]
    error_prefix: str
    start: Callable[[ServiceCall, Any], Any]
    resume: Callable[[ServiceCall, Any, str, Any], Any] | None = None
    error_name: Callable[[BaseException, ServiceCall], str | None] | None = None


def run_nested(operator: Any, context: Any) -> Any:
    """Run a provider operator's ``execute`` inside the state task that owns it.

    Airflow guards ``execute`` against calls from outside its task runner; the state task *is*
    running under the task runner, so it passes the runner's own sentinel instead of tripping
    the guard (and its warning) on every call.
    """
    from airflow.sdk.bases.operator import ExecutorSafeguard

    sentinel = {f"{type(operator).__name__}__sentinel": ExecutorSafeguard.sentinel_value}
    return operator.execute(context, **sentinel)
