"""One ASL state as one Airflow task.

A state task reads its input from the upstream task that chose it (XCom ``asl_next`` names the
chosen state, ``return_value`` carries the data), applies the state's semantics from
``asl.states`` and pushes its output the same way. Only the states Step Functions would enter
run: a task nobody chose skips itself, and a branching task skips the successors only it could
have chosen. Runtime data is never a template field, so Jinja never renders it.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, DownstreamTasksSkipped

from asl_airflow.airflow.retry_policy import AslRetryPolicy, AslStateFailed
from asl_airflow.asl import clock, retry, states
from asl_airflow.asl import errors as asl_errors
from asl_airflow.asl.context import ExecutionInfo, iso_at, iso_now
from asl_airflow.asl.errors import AslError
from asl_airflow.asl.history import details_key, dumps, resource_details, task_event_family
from asl_airflow.asl.interpreter import locate

STATE_KEY = "asl_state"  # one record per state task: {"next", "output", "variables", "events", "error", "index"}
ENTRY_KEY = "asl_entry"  # a Parallel/Map entry task: {"input", "variables"} handed to its branches / items
_PROGRESS = "asl_progress"  # task_state_store: retry counters, events of earlier tries, pending call
#: task_state_store: the records this task failed with before the run was cleared (redriven); the
#: XCom record of a cleared task is gone when it runs again, and the redriven history keeps them
_FAILED_RECORDS = "asl_failed_records"

_STATE_COLORS = {
    "Task": "#ffefd5", "Pass": "#e8f4fd", "Choice": "#fff5cc", "Wait": "#eeeeee",
    "Succeed": "#d4edda", "Fail": "#f8d7da", "Parallel": "#e2d9f3", "Map": "#e2d9f3",
}
_EXECUTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,79}$")


def execution_name(run_id: str, dag_id: str) -> str:
    """``$$.Execution.Name``: the run id when Step Functions (and SageMaker job names) accept it,
    otherwise a UUID derived from the run, the way Step Functions names unnamed executions."""
    if _EXECUTION_NAME.match(run_id) and len(run_id) <= 63:
        return run_id
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"asl-airflow/{dag_id}/{run_id}"))


def map_index(ti: Any) -> int:
    """The task instance's map index; -1 for a task outside any mapped group."""
    index = getattr(ti, "map_index", None)
    return index if isinstance(index, int) and index >= 0 else -1


#: a DAG run's conf is an object; any other execution input (an array, a string, a number) travels
#: as ``{INPUT_KEY: value}`` and is unwrapped before the first state sees it
INPUT_KEY = "__asl_input__"


def run_conf(execution_input: Any) -> dict[str, Any]:
    """The DAG run conf that carries ``execution_input`` (Step Functions accepts any JSON value)."""
    if execution_input is None:
        return {}
    if isinstance(execution_input, dict) and INPUT_KEY not in execution_input:
        return execution_input
    return {INPUT_KEY: execution_input}


def execution_input(conf: Any) -> Any:
    """The execution input a DAG run's conf carries (the inverse of :func:`run_conf`)."""
    if isinstance(conf, dict) and set(conf) == {INPUT_KEY}:
        return conf[INPUT_KEY]
    return dict(conf) if isinstance(conf, dict) else (conf if conf is not None else {})


def watcher_input(asset_events: Any) -> list[Any] | None:
    """The execution input of a run started by ``AssetWatcher`` triggers: their events' payloads.

    A watcher's trigger event becomes an asset event whose extra is ``{"from_trigger": True,
    "payload": ...}``; the run the scheduler starts for it consumes one or more such events (several
    when they queued up while a run was active). The input is the list of their payloads, oldest
    first, the way EventBridge Pipes hands Step Functions a batch of stream records. ``None`` when no
    consumed event came from a trigger (a manual run, or an Asset emitted by another DAG's task).
    """
    found = []
    for event in asset_events or ():
        extra = getattr(event, "extra", None) or {}
        if isinstance(extra, dict) and extra.get("from_trigger") and "payload" in extra:
            found.append((str(getattr(event, "timestamp", "") or ""), getattr(event, "id", 0) or 0, extra["payload"]))
    return [payload for _, _, payload in sorted(found, key=lambda item: item[:2])] or None


def run_input(conf: Any, asset_events: Any = None) -> Any:
    """A run's execution input: its conf when it has one, else what started it through a watcher."""
    if not conf:
        from_watchers = watcher_input(asset_events)
        if from_watchers is not None:
            return from_watchers
    return execution_input(conf)


def execution_info(context: Any, state_machine_name: str) -> ExecutionInfo:
    dag_run = context["dag_run"]
    start = getattr(dag_run, "start_date", None) or getattr(dag_run, "logical_date", None)
    start_text = iso_at(start) if start else iso_now()
    conf = getattr(dag_run, "conf", None)
    return ExecutionInfo(
        input=run_input(conf, getattr(dag_run, "consumed_asset_events", None)),
        name=execution_name(dag_run.run_id, dag_run.dag_id),
        state_machine_name=state_machine_name,
        start_time=start_text,
        # clearing a finished run's failed tasks is its redrive: Airflow counts the clears
        redrive_count=int(getattr(dag_run, "clear_number", 0) or 0),
    )


class AslStateOperator(BaseOperator):
    """Runs one Pass, Choice, Wait, Succeed or Fail state (Task states: :class:`AslTaskOperator`)."""

    template_fields = ()  # state data is runtime data: never rendered by Jinja
    ui_fgcolor = "#000000"

    def __init__(
        self,
        *,
        state_name: str,
        state: dict[str, Any],
        query_language: str = states.JSONPATH,
        state_machine_name: str = "StateMachine",
        predecessors: dict[str, str] | None = None,
        successors: dict[str, str] | None = None,
        exclusive_successors: list[str] | None = None,
        is_start: bool = False,
        entry_task_id: str | None = None,
        nested: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("task_display_name", state_name)
        # a worker that died (killed, heartbeat lost, API server unreachable) is no ASL failure:
        # these states do no AWS work, so running them again is safe (a Wait keeps its moment)
        kwargs.setdefault("retries", reconnect_tries())
        kwargs.setdefault("retry_delay", timedelta(seconds=reconnect_delay()))
        kwargs.setdefault("doc_md", f"**{state['Type']}** state `{state_name}`\n\n```json\n"
                          f"{json.dumps(state, indent=2)}\n```")
        super().__init__(**kwargs)
        self.state_name = state_name
        self.state = state
        self.state_type = state["Type"]
        self.query_language = query_language
        self.state_machine_name = state_machine_name
        self.predecessors = predecessors or {}  # task_id -> state name
        self.successors = successors or {}  # state name -> task_id
        self.exclusive_successors = exclusive_successors or []  # task ids only this task can choose
        self.is_start = is_start
        self.entry_task_id = entry_task_id  # first state of a branch/item: input from this entry task
        self.nested = nested  # inside a Parallel branch or Map item: the join reports this state
        self.names = [state_name]  # the states a predecessor may choose to start this task
        self.lane_processor: dict[str, Any] | None = None  # first task of a Map's items: the ItemProcessor
        self.ui_color = _STATE_COLORS.get(self.state_type, "#ffffff")
        #: set by the compiler: per enclosing Parallel, the task ids whose failure stops this task
        #: (:meth:`parallel_failed`), and the state machine's TimeoutSeconds (:meth:`execution_deadline`)
        self.stop_watch: list[dict[str, Any]] = []
        #: the id of the history event just before this state's first one (:meth:`chosen_input`): the
        #: execution's id at the top level, counted from the branch's or item's start inside one
        self.event_base = 0
        self.execution_timeout_seconds: float | None = None

    # -- input ----------------------------------------------------------------------------------

    def state_input(self, context: Any) -> tuple[Any, dict[str, Any]]:
        """The input and variables handed over by whichever upstream state chose this one."""
        data, variables, _ = self.chosen_input(context)
        return data, variables

    def chosen_input(self, context: Any) -> tuple[Any, dict[str, Any], str]:
        """``(input, variables, state name chosen)``; skips this task when Step Functions would not enter it."""
        ti = context["ti"]
        self.check_bounds(context)
        self.event_base = 0  # a branch's or item's first state: the join places its events
        if self.is_start:
            self.event_base = 1  # after ExecutionStarted
            return execution_info(context, self.state_machine_name).input, {}, self.names[0]
        index = map_index(ti)
        if self.entry_task_id:
            # a Map's items read their Map's (unmapped) entry; a branch reads its Parallel's, which is
            # mapped like this task when the Parallel sits inside a Map's items
            item_start = self.lane_processor is not None
            entry_index = -1 if item_start else index
            entry = pull_record(ti, self.entry_task_id, ENTRY_KEY, entry_index)
            if entry is not None and not entry["failed"]:
                if item_start:  # its own item, pushed by the Map's entry task for this index
                    item = ti.xcom_pull(task_ids=self.entry_task_id, key=f"asl_item_{index}", map_indexes=-1)
                    if entry.get("lanes"):  # more items than mapped tasks: this lane runs its items in turn
                        from asl_airflow.airflow.composite import run_lane

                        run_lane(self, context, item, entry["variables"] or {})
                    return item, dict(entry["variables"] or {}), self.names[0]
                return entry["input"], dict(entry["variables"] or {}), self.names[0]
        for task_id in self.predecessors:
            record = pull_record(ti, task_id, STATE_KEY, index)
            if record and record.get("error") is None and record.get("next") in self.names:
                self.event_base = int(record.get("last_id") or 0)
                return record["output"], record.get("variables") or {}, record["next"]
        raise AirflowSkipException(f"Step Functions would not enter {self.state_name!r} in this execution")

    def env(self, context: Any, variables: dict[str, Any], entered: str | None = None,
            retry_count: int = 0) -> states.StateEnv:
        return states.StateEnv(
            execution_info(context, self.state_machine_name), self.state_name, variables,
            entered_time=entered or iso_now(), retry_count=retry_count, state_type=self.state_type,
        )

    # -- output ---------------------------------------------------------------------------------

    def finish(self, context: Any, outcome: states.Outcome, events: list[dict[str, Any]],
               exited: bool = True) -> Any:
        """Push the outcome, record the history, skip what this state did not choose."""
        try:
            _check_size(outcome.output, self.state_name)
        except AslError as exc:  # over 256 KiB: the execution fails with States.DataLimitExceeded
            self.fail_execution(context, exc, events)
        if exited and self.state_type != "Fail":
            events.append(_event(f"{self.state_type}StateExited", "stateExitedEventDetails",
                                 {"name": self.state_name, "output": dumps(outcome.output)}))
        self.push_record(context, outcome.output, outcome.next, outcome.variables, events)
        chosen = self.successors.get(outcome.next) if outcome.next else None
        skip: list[Any] = [t for t in self.exclusive_successors if t != chosen]
        index = map_index(context["ti"])
        if skip and index >= 0:
            skip = [(t, index) for t in skip]  # only this item's tasks, not the other items'
        if skip:
            context["ti"].xcom_push(key="return_value", value=outcome.output)
            raise DownstreamTasksSkipped(tasks=skip)
        return outcome.output

    def push_record(self, context: Any, output: Any, next_: str | None, variables: dict[str, Any] | None,
                    events: list[dict[str, Any]], error: AslError | None = None, **extra: Any) -> None:
        """The one record other tasks read: the successor chosen, the data, variables, history events
        and, when the state failed, its error (a join reads it to fail or catch its branch)."""
        ti = context["ti"]
        record = {
            "index": map_index(ti),
            "next": next_,
            "output": output,
            "variables": variables or None,
            "events": events,
            "last_id": self.event_base + len(events),  # where the successor's events start
            "error": {"Error": error.error, "Cause": error.cause} if error is not None else None,
            **extra,
        }
        clears = clear_number(context)
        if clears:  # the redrive that wrote it: a join and the history tell old records from new ones
            record["clear"] = clears
        if earlier := _failed_records(context, clears, record):
            record["earlier"] = earlier
        ti.xcom_push(key=STATE_KEY, value=record)

    def entered_event(self, data: Any) -> dict[str, Any]:
        return _event(f"{self.state_type}StateEntered", "stateEnteredEventDetails",
                      {"name": self.state_name, "input": dumps(data)})

    def fail_execution(self, context: Any, error: AslError, events: list[dict[str, Any]]) -> None:
        """End the run (or, inside a branch, the branch) FAILED with Error and Cause, bypassing any retry."""
        self.push_record(context, None, None, None, events, error)
        raise AirflowFailException(f"{error.error}: {error.cause}" if error.cause else str(error.error))

    # -- bounds set from outside the state: a failed sibling branch, the execution's TimeoutSeconds --

    def parallel_failed(self, context: Any) -> bool:
        """Whether a branch of a Parallel enclosing this task failed, so Step Functions stops this
        branch (one Task SDK call per enclosing Parallel; none outside Parallel branches)."""
        if not self.stop_watch:
            return False
        from asl_airflow.airflow.triggers import parallel_failed

        ti = context["ti"]
        return parallel_failed(ti.dag_id, ti.run_id, map_index(ti), self.stop_watch)

    def execution_deadline(self, context: Any) -> datetime | None:
        """When the execution times out: the DAG run's start plus the machine's TimeoutSeconds."""
        start = getattr(context["dag_run"], "start_date", None)
        if not self.execution_timeout_seconds or start is None:
            return None
        return start + timedelta(seconds=self.execution_timeout_seconds)

    def check_bounds(self, context: Any, events: list[dict[str, Any]] | None = None) -> None:
        """Before a state does anything: past the execution's deadline the execution times out;
        when a sibling branch failed, this task skips (no AWS work, no record)."""
        deadline = self.execution_deadline(context)
        if deadline is not None and clock.utcnow() >= deadline:
            self.time_out(context, events or [])
        if self.parallel_failed(context):
            raise AirflowSkipException(f"{self.state_name!r} does not run: a branch of its Parallel failed, "
                                       "and Step Functions stops the other branches")

    def time_out(self, context: Any, events: list[dict[str, Any]]) -> None:
        """End the execution TIMED_OUT (``States.Timeout``; no Retry, no Catch): the record says
        so and :func:`~asl_airflow.airflow.results.execution_result` reports it."""
        deadline = self.execution_deadline(context)
        if deadline is not None:
            clock.arrive(deadline)  # under --time-scale the guard fired early in real time
        error = AslError(asl_errors.TIMEOUT, "The execution ran longer than the state machine's TimeoutSeconds "
                                             f"({self.execution_timeout_seconds:g} seconds).")
        self.push_record(context, None, None, None, events, error, timed_out=True)
        raise AirflowFailException(f"{error.error}: {error.cause}")

    def guard(self, context: Any, trigger: Any, deadline: datetime | None = None) -> Any:
        """``trigger`` bounded by ``deadline`` (the state's TimeoutSeconds), the execution's deadline
        and, inside a Parallel branch, a failing sibling (:class:`~asl_airflow.airflow.triggers.AslDeadlineTrigger`)."""
        execution_deadline = self.execution_deadline(context)
        watch = None
        if self.stop_watch:
            ti = context["ti"]
            watch = {"dag_id": ti.dag_id, "run_id": ti.run_id, "map_index": map_index(ti), "watch": self.stop_watch}
        if deadline is None and execution_deadline is None and watch is None:
            return trigger
        from asl_airflow.airflow.triggers import AslDeadlineTrigger

        # the trigger waits in real time (--time-scale: scaled)
        return AslDeadlineTrigger.wrap(trigger, deadline, clock.real_moment(execution_deadline), watch)

    def guarded_end(self, context: Any, event: Any, events: list[dict[str, Any]], type_: str | None = None) -> None:
        """Back from a :meth:`guard` ed deferral: end as the trigger says when a bound ended it (the
        execution timed out; a sibling branch failed: this state is recorded aborted and skips)."""
        from asl_airflow.airflow.triggers import EXECUTION_TIMEOUT_EVENT, STOPPED_EVENT

        if isinstance(event, dict) and event.get(EXECUTION_TIMEOUT_EVENT):
            self.time_out(context, list(events))
        if isinstance(event, dict) and event.get(STOPPED_EVENT):
            self.stop_branch(context, events, type_)

    def stop_branch(self, context: Any, events: list[dict[str, Any]], type_: str | None = None) -> None:
        """This branch stops because a sibling failed: the record keeps what the state did so far
        plus its ``<Type>StateAborted`` (``stopped``: how many trailing events the stop wrote, which
        the join replays only when it stops the branch too), and the task ends skipped."""
        aborted = [_event(f"{type_ or self.state_type}StateAborted", None, None)]
        self.push_record(context, None, None, None, [*events, *aborted], stopped=len(aborted))
        raise AirflowSkipException(f"{self.state_name!r} stopped: a branch of its Parallel failed, "
                                   "and Step Functions stops the other branches")

    # -- execution ------------------------------------------------------------------------------

    def execute(self, context: Any) -> Any:
        waiting = self._waiting(context)
        if waiting is not None:
            return self._wait_again(context, waiting)
        data, variables = self.state_input(context)
        env = self.env(context, variables)
        events = [self.entered_event(data)]
        ql = self.query_language
        try:
            if self.state_type == "Pass":
                outcome = states.run_pass(self.state, data, env, ql)
            elif self.state_type == "Succeed":
                outcome = states.run_succeed(self.state, data, env, ql)
            elif self.state_type == "Choice":
                outcome = states.run_choice(self.state, data, env, ql)
            elif self.state_type == "Fail":
                self.fail_execution(context, states.fail_error(self.state, data, env, ql), events)
                raise AssertionError("unreachable")
            elif self.state_type == "Wait":
                return self._wait(context, data, env, events)
            else:
                raise AslError(asl_errors.RUNTIME, f"{self.state_type} states are not compiled yet")
        except AslError as exc:
            evaluation_failed(events, exc, self.state_name)  # its cause is the unlocated one, as on AWS
            self.fail_execution(context, locate(exc, self.state_name, self.event_base + 1), events)
            raise
        return self.finish(context, outcome, events)

    def _wait(self, context: Any, data: Any, env: states.StateEnv, events: list[dict[str, Any]]) -> Any:
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        previous = context["task_state_store"].get(_PROGRESS)
        if isinstance(previous, dict) and previous.get("until") and previous.get("clear", 0) == clear_number(context):
            moment = datetime.fromisoformat(previous["until"])  # a re-run after a crash: the same moment
        else:
            moment = wait_until(self.state, data, env, self.query_language)
        outcome = states.wait_outcome(self.state, data, env, self.query_language)
        deadline = self.execution_deadline(context)
        # the moment on the execution's clock, and when that is in real time: the same, except under
        # --time-scale, where a simulated execution that times out inside the Wait stops waiting there
        end = min(moment, deadline) if clock.current() is not None and deadline is not None else moment
        real = clock.real_moment(end)
        context["task_state_store"].set(_PROGRESS, {
            "output": outcome.output, "next": outcome.next, "variables": outcome.variables, "events": events,
            "base": self.event_base,
            "until": moment.isoformat(), "real_until": real.isoformat(), "try": context["ti"].try_number,
            "clear": clear_number(context),
        })
        if end <= clock.utcnow():
            return self.resume_wait(context)
        if self.stop_watch and inline_triggers(context):
            reschedule_until(real)
        if not defers(context, real, clock.real_moment(deadline)):  # shorter than min_defer_seconds
            self.sleep_until(context, real, events)
            return self.resume_wait(context)
        self.defer(trigger=self.guard(context, DateTimeTrigger(moment=real)), method_name="resume_wait")

    def sleep_until(self, context: Any, moment: datetime, events: list[dict[str, Any]]) -> None:
        """Wait in the worker until ``moment`` (real time); inside a Parallel branch, in slices of
        ``[asl_airflow] stop_poll_interval``, stopping (:meth:`stop_branch`) when a sibling fails."""
        from asl_airflow.airflow.triggers import stop_poll_interval

        while (left := (moment - datetime.now(UTC)).total_seconds()) > 0:
            if self.parallel_failed(context):
                self.stop_branch(context, events)
            time.sleep(min(left, stop_poll_interval()) if self.stop_watch else left)

    def _waiting(self, context: Any) -> dict[str, Any] | None:
        """This try's Wait in progress, when the task runs again after :func:`reschedule_until`."""
        if self.state_type != "Wait" or not self.stop_watch:
            return None
        saved = context["task_state_store"].get(_PROGRESS)
        if isinstance(saved, dict) and saved.get("until") and saved.get("try") == context["ti"].try_number:
            self.event_base = int(saved.get("base") or 0)
            return saved
        return None

    def _wait_again(self, context: Any, saved: dict[str, Any]) -> Any:
        """A rescheduled Wait (under ``dag.test()``) looks again: timed out, stopped, done or not yet."""
        deadline = self.execution_deadline(context)
        if deadline is not None and clock.utcnow() >= deadline:
            self.time_out(context, saved["events"])
        if self.parallel_failed(context):
            self.stop_branch(context, saved["events"])
        until = datetime.fromisoformat(saved.get("real_until") or saved["until"])
        if until <= datetime.now(UTC):
            return self.resume_wait(context)
        reschedule_until(until)

    def resume_wait(self, context: Any, event: Any = None) -> Any:
        saved = context["task_state_store"].get(_PROGRESS)
        self.event_base = int(saved.get("base") or 0)  # back from a deferral: this instance is new
        self.guarded_end(context, event, saved["events"])
        until = datetime.fromisoformat(saved["until"])
        deadline = self.execution_deadline(context)
        if clock.current() is not None and deadline is not None and deadline < until:
            self.time_out(context, saved["events"])  # simulated time reached the deadline first
        clock.arrive(until)  # --time-scale: the wait ends at its moment on the execution's clock
        outcome = states.Outcome(saved["output"], saved["next"], saved["variables"] or {})
        return self.finish(context, outcome, saved["events"])


class AslTaskOperator(AslStateOperator):
    """A Task state: the Resource runs through its integration entry (the Amazon provider).

    ``.sync`` jobs defer inside the provider operator; this task re-defers on the same trigger
    and resumes the provider operator's method when AWS is done. Errors become ASL names, then
    Retry (via :class:`AslRetryPolicy`) and Catch apply exactly as in Step Functions.
    """

    def __init__(self, *, aws_conn_id: str = "aws_default", region_name: str | None = None,
                 **kwargs: Any) -> None:
        state = kwargs["state"]
        retriers = state.get("Retry", [])
        # Airflow's tries are an upper bound: the ASL retriers' MaxAttempts (decided exactly by the
        # policy, counted in task_state_store) plus a few re-runs of the same attempt after a worker
        # crash, which reconnect to the job and come after ``reconnect_delay`` instead of 300 s
        # (capped: the metadata DB keeps tries in a 32-bit column; MaxAttempts may each be 99999999)
        kwargs.setdefault("retries", min(retry.max_retries(retriers) + reconnect_tries(), 2**31 - 2))
        kwargs.setdefault("retry_policy", AslRetryPolicy())
        kwargs.setdefault("retry_delay", timedelta(seconds=reconnect_delay()))
        timeout = state.get("TimeoutSeconds")  # a {% %} expression or TimeoutSecondsPath is evaluated per run
        if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0:
            kwargs.setdefault("execution_timeout", timedelta(seconds=min(timeout, 99_999_999)))
        super().__init__(**kwargs)
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.resource = state["Resource"]
        self.family = task_event_family(self.resource)

    def _progress(self, context: Any) -> dict[str, Any]:
        """This task's ASL progress. A run cleared after it ended is a redrive (``dag_run.clear_number``
        counts them): the state starts afresh, with new retry counters and a new submission."""
        store = context["task_state_store"]
        clears = clear_number(context)
        saved = store.get(_PROGRESS)
        if saved and saved.get("clear", 0) != clears:
            store.delete("asl_call")  # the journal of the attempt before the redrive (CallJournal.key)
            saved = None
        progress = saved or {"counters": [], "events": [], "entered": None, "clear": clears}
        # where its events start (operators.event_base): kept for the resumes after a deferral
        self.event_base = progress.setdefault("base", self.event_base)
        return progress

    def _save(self, context: Any, progress: dict[str, Any]) -> None:
        context["task_state_store"].set(_PROGRESS, progress)

    def _call(self, parameters: Any, extra: dict[str, Any], journal: Any = None) -> tuple[Any, Any]:
        """The Resource's integration entry and this state's call of it."""
        from asl_airflow.airflow.mocking import mocked
        from asl_airflow.integrations import make_call

        entry, call = make_call(
            self.resource, parameters, aws_conn_id=self.aws_conn_id, region_name=self.region_name,
            deferrable=True, task_id=self.task_id, state_name=self.state_name, extra=extra, journal=journal,
        )
        return mocked(self.state_machine_name, self.state_name, entry), call  # [asl_airflow] mock_config

    def _journal(self, context: Any, progress: dict[str, Any]) -> Any:
        """This ASL attempt's submission record; its token is the same on every re-run of the attempt."""
        from asl_airflow.integrations.base import CallJournal

        ti = context["ti"]
        attempt = sum(progress["counters"])
        clears = clear_number(context)  # a redrive is a new submission: a new idempotency token
        token = uuid.uuid5(uuid.NAMESPACE_URL,
                           f"asl-airflow/{ti.dag_id}/{ti.run_id}/{ti.task_id}/{map_index(ti)}/{attempt}"
                           + (f"/redrive-{clears}" if clears else ""))
        return CallJournal(context["task_state_store"], attempt, str(token))

    def execute(self, context: Any) -> Any:
        data, variables = self.state_input(context)
        progress = self._progress(context)
        if progress.get("retry_at"):
            clock.arrive(datetime.fromisoformat(progress.pop("retry_at")))
        if not progress["events"]:
            progress["entered"] = iso_now()
            progress["events"] = [self.entered_event(data)]
        env = self.env(context, variables, progress["entered"], sum(progress["counters"]))
        # a worker died after this ASL attempt reached its service call: run the same attempt again
        # (same parameters and token, no new events); the entry reconnects instead of resubmitting
        rerun = progress.get("called") == sum(progress["counters"]) and "parameters" in progress
        # the execution's ARNs, which some integrations send along (EventBridge adds them to Resources)
        extra: dict[str, Any] = {"execution_arns": [env.execution.state_machine_arn, env.execution.execution_arn]}
        sent_token = _sent_token(progress) if rerun else None
        if sent_token:  # the service may hold this attempt's token already
            env.task_token = extra["task_token"] = sent_token
        elif self.resource.endswith(".waitForTaskToken"):
            from asl_airflow.integrations.callbacks import new_task_token, token_digest

            # $$.Task.Token: a fresh token per attempt, as Step Functions issues one per attempt. The
            # store keeps its digest only (task_state_store is readable through the REST API)
            env.task_token = extra["task_token"] = new_task_token(context)
            progress["task_token_sha256"] = token_digest(env.task_token)
        entry = call = None
        try:
            if rerun:
                parameters = progress["parameters"]
                timeout, heartbeat = progress.get("timeouts") or (None, None)
            else:
                try:  # the state's own evaluation, as the interpreter does it: Parameters, then the timeouts
                    parameters = states.task_parameters(self.state, data, env, self.query_language)
                    timeout, heartbeat = states.task_timeouts(self.state, data, env, self.query_language)
                except AslError as exc:
                    return self._state_error(context, progress, data, env, exc)
            if "task_token" in extra or self.family == "Activity":  # their wait enforces both itself
                extra["timeout_seconds"], extra["heartbeat_seconds"] = timeout, heartbeat
            elif timeout and not rerun:  # TimeoutSeconds counts the time AWS works too, deferred or not
                progress["deadline"] = (datetime.now(UTC) + timedelta(seconds=timeout)).isoformat()
            entry, call = self._call(parameters, extra, self._journal(context, progress))
            if not rerun:
                progress["events"].extend(self._scheduled(parameters, timeout, heartbeat, entry))
                progress.update(data=data, variables=variables, parameters=parameters,
                                timeouts=[timeout, heartbeat], called=sum(progress["counters"]))
                self._save(context, progress)
            if getattr(entry, "mocked", False) and self.resource.endswith((".sync", ".sync:2", ".waitForTaskToken")):
                # a mocked job or callback is submitted at once, as Step Functions Local records it
                self._record_submitted(progress)
            # a .sync job that was submitted: AWS records TaskSubmitted between TaskStarted and the
            # job's end, whether the provider defers or finds the job done at once (as on moto)
            submits = not getattr(entry, "mocked", False) and self.resource.endswith((".sync", ".sync:2"))
            try:
                result = entry.start(call, context)
            except _task_deferred() as deferred:
                if self.family != "Activity":
                    self._record_submitted(progress)
                self._defer(context, progress, deferred)
            except Exception as exc:
                from asl_airflow.integrations.errors import to_asl_error

                if submits and to_asl_error(exc, entry, call).error == "States.TaskFailed":  # submitted, then failed
                    self._record_submitted(progress)
                raise
            if submits:
                self._record_submitted(progress)
        except Exception as exc:
            return self._failed(context, progress, data, env, exc, entry, call)
        return self._succeeded(context, progress, data, env, result)

    def _record_submitted(self, progress: dict[str, Any]) -> None:
        """``TaskSubmitted``, once per ASL attempt (a re-run of the attempt after a crash included)."""
        if progress.get("submitted") != progress["called"]:
            progress["submitted"] = progress["called"]
            progress["events"].append(_event("TaskSubmitted", "taskSubmittedEventDetails",
                                             resource_details(self.family, self.resource)))

    def _defer(self, context: Any, progress: dict[str, Any], deferred: Any) -> None:
        """Defer on the provider's trigger, resuming in :meth:`resume_service`; the trigger's timeout
        is cut to what is left of the state's TimeoutSeconds (``States.Timeout`` when it passes)."""
        progress["method"] = deferred.method_name
        self._save(context, progress)
        deadline = datetime.fromisoformat(progress["deadline"]) if progress.get("deadline") else None
        # also cut at the execution's deadline, and stopped when a sibling branch fails
        trigger = self.guard(context, deferred.trigger, deadline)
        if not inline_triggers(context) and (hold := min_defer_seconds()) > 0:
            # a trigger that fires at once must not resume the task before the scheduler has seen
            # the deferral: its event is held until min_defer_seconds after now (AslHoldTrigger);
            # each Airflow try that re-runs this ASL attempt (a crash, or this race lost on a
            # scheduler slower than the hold) holds twice as long, up to 5 minutes
            from asl_airflow.airflow.triggers import AslHoldTrigger

            reruns = max(context["ti"].try_number - 1 - sum(progress.get("counters") or []), 0)
            hold = min(hold * 2 ** min(reruns, 8), 300.0)
            trigger = AslHoldTrigger.wrap(trigger, datetime.now(UTC) + timedelta(seconds=hold))
        self.defer(trigger=trigger, method_name="resume_service", timeout=deferred.timeout)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any) -> Any:
        """A trigger that timed out or failed is this state's failure, so Retry and Catch see it like
        any other error: ``States.Timeout``, or the error the trigger raised under its Step Functions
        name (an unreachable endpoint is ``<Service>.SdkClientException``, as the AWS SDK names
        client-side failures), read from the traceback Airflow hands over."""
        from airflow.sdk.exceptions import TaskDeferralError

        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except TaskDeferralError as exc:
            from asl_airflow.integrations.errors import trigger_failure_error

            progress = self._progress(context)
            data, variables = progress.get("data"), progress.get("variables") or {}
            env = self.env(context, variables, progress.get("entered"), sum(progress.get("counters", [])))
            if type(exc).__name__ == "TaskDeferralTimeout":
                error = AslError(asl_errors.TIMEOUT, "The task timed out")
            else:
                entry = None
                if "parameters" in progress:
                    entry, _ = self._call(progress["parameters"], {})
                error = trigger_failure_error((next_kwargs or {}).get("traceback"), entry, str(exc))
            return self._failed(context, progress, data, env, error, None, None)

    def resume_service(self, context: Any, event: Any = None) -> Any:
        """Back from the provider's trigger: let the provider operator finish, then shape the output."""
        progress = self._progress(context)
        self.guarded_end(context, event, progress["events"])  # the execution timed out, or a sibling failed
        data, variables = progress["data"], progress["variables"] or {}
        env = self.env(context, variables, progress["entered"], sum(progress["counters"]))
        env.task_token = _sent_token(progress)
        entry, call = self._call(progress["parameters"], {"task_token": env.task_token} if env.task_token else {},
                                 self._journal(context, progress))
        try:
            if entry.resume is None:
                raise AslError(asl_errors.RUNTIME, f"{self.resource} cannot resume after a deferral")
            from asl_airflow.airflow.triggers import TIMEOUT_EVENT

            if isinstance(event, dict) and event.get(TIMEOUT_EVENT):
                raise AslError(asl_errors.TIMEOUT, "The task timed out (TimeoutSeconds passed while AWS worked)")
            try:
                if self.family == "Activity" and isinstance(event, dict) and isinstance(event.get("started"), dict):
                    progress["events"].append(_started(event["started"]))
                result = entry.resume(call, context, progress["method"], event)
            except _task_deferred() as deferred:  # the provider waits again (e.g. app start, then job)
                self._defer(context, progress, deferred)
        except Exception as exc:
            return self._failed(context, progress, data, env, exc, entry, call)
        return self._succeeded(context, progress, data, env, result)

    # -- outcomes -------------------------------------------------------------------------------

    def _scheduled(self, parameters: Any, timeout: float | None = None, heartbeat: float | None = None,
                   entry: Any = None) -> list[dict[str, Any]]:
        family = self.family
        if family == "Activity":  # ActivityStarted comes when a worker takes the task (resume_service)
            limits = (("timeoutInSeconds", timeout), ("heartbeatInSeconds", heartbeat))
            details = {"resource": self.resource, "input": dumps(parameters), **{k: int(v) for k, v in limits if v}}
            scheduled = [_event("ActivityScheduled", "activityScheduledEventDetails", details)]
            return scheduled + ([_event("ActivityStarted", None, None)] if getattr(entry, "mocked", False) else [])
        if family == "LambdaFunction":
            details = {"resource": self.resource, "input": dumps(parameters)}
        else:
            details = {**resource_details(family, self.resource), "parameters": dumps(parameters),
                       "region": self.region_name or ""}
        return [_event(f"{family}Scheduled", details_key(family, "Scheduled"), details),
                _event(f"{family}Started", None, None)]

    def _succeeded(self, context: Any, progress: dict[str, Any], data: Any, env: states.StateEnv,
                   result: Any) -> Any:
        try:
            _check_size(result, self.state_name)
            progress["events"].append(_event(
                f"{self.family}Succeeded", details_key(self.family, "Succeeded"),
                {**resource_details(self.family, self.resource), "output": dumps(result)}))
        except AslError as exc:
            return self._failed(context, progress, data, env, exc, None, None)
        try:
            outcome = states.task_output(self.state, data, result, env, self.query_language)
        except AslError as exc:
            return self._state_error(context, progress, data, env, exc)
        return self.finish(context, outcome, progress["events"])

    def _state_error(self, context: Any, progress: dict[str, Any], data: Any, env: states.StateEnv,
                     error: AslError) -> Any:
        """An error of the state's own evaluation (Parameters, ResultSelector, ...): no service
        failure event, an ``EvaluationFailed`` one for JSONata errors; Retry and Catch still apply."""
        evaluation_failed(progress["events"], error, self.state_name)
        # located before Retry and Catch see it, as the local engine does (a caught cause says it too)
        error = locate(error, self.state_name, self.event_base + 1)
        return self._failed(context, progress, data, env, error, None, None, service_failed=False)

    def _failed(self, context: Any, progress: dict[str, Any], data: Any, env: states.StateEnv,
                exc: BaseException, entry: Any, call: Any, service_failed: bool = True) -> Any:
        from asl_airflow.integrations.errors import to_asl_error

        error = to_asl_error(exc, entry, call)
        details = {**resource_details(self.family, self.resource), "error": error.error}
        if error.cause is not None:
            details["cause"] = error.cause
        if service_failed:
            # an activity that timed out (TimeoutSeconds, HeartbeatSeconds) is ActivityTimedOut on AWS
            what = "TimedOut" if self.family == "Activity" and error.error in _TIMEOUTS else "Failed"
            progress["events"].append(_event(f"{self.family}{what}", details_key(self.family, what),
                                             details))
        step = retry.next_retry(self.state.get("Retry", []), error.error, progress["counters"])
        if step.retry:
            # under --time-scale Airflow waits scale x the delay; the next attempt starts at the
            # full delay on the execution's clock (execute arrives there)
            progress["retry_at"] = (clock.utcnow() + timedelta(seconds=step.delay)).isoformat()
            self._save(context, progress)
            raise AslStateFailed(error.error, error.cause, clock.scaled(step.delay), step.retrier) from exc
        catcher = retry.find_catcher(self.state.get("Catch", []), error.error)
        if catcher is not None:
            # the task ends successfully: its log is where a user sees what was caught
            self.log.warning("%s failed with %s (%s); caught, next state %r", self.state_name, error.error,
                             error.cause, catcher.get("Next"))
            outcome = states.catch_outcome(catcher, data, error, env, self.query_language)
            return self.finish(context, outcome, progress["events"])
        # a service's States.Runtime is caught as it came, but ends the execution located
        error = locate(error, self.state_name, self.event_base + 1)
        self.push_record(context, None, None, None, progress["events"], error)
        raise AslStateFailed(error.error, error.cause) from exc


_TIMEOUTS = frozenset({asl_errors.TIMEOUT, asl_errors.HEARTBEAT_TIMEOUT})


def _started(started: dict[str, Any]) -> dict[str, Any]:
    """``ActivityStarted`` as AWS writes it: when the worker took the task (the claim's moment, not
    when the trigger fired, so TimeoutSeconds shows in the history between it and the timeout), with
    the name the worker gave GetActivityTask (none if it gave none). Under --time-scale the simulated
    clock's now stands, since the claim is in real time."""
    name = started.get("workerName")
    event = _event("ActivityStarted", "activityStartedEventDetails", {"workerName": name} if name else {})
    at = started.get("at")
    if clock.current() is None and isinstance(at, str):
        try:
            event["timestamp"] = iso_at(datetime.fromisoformat(at))
        except ValueError:
            pass
    return event


_TOKEN_TEXT = re.compile(r"v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}")  # callbacks.encode_task_token


def _sent_token(progress: dict[str, Any]) -> str | None:
    """This attempt's ``$$.Task.Token``, found again in the Parameters it was sent with: the one
    place it is kept while the Task waits (as in AWS's history, where TaskScheduled shows the
    Parameters). Only its SHA-256 is stored beside them, so the token itself is never a stored
    field of its own; a match is recognised by that digest."""
    digest = progress.get("task_token_sha256")
    if not digest or "parameters" not in progress:
        return None
    from asl_airflow.integrations.callbacks import token_digest

    stack = [progress["parameters"]]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and "v1." in item:
            for match in _TOKEN_TEXT.finditer(item):
                if token_digest(match.group(0)) == digest:
                    return match.group(0)
    return None


def reconnect_tries() -> int:
    """Airflow tries a Task gets on top of its ASL retries, to re-run an attempt a worker crash cut
    short (``[asl_airflow] reconnect_tries``, default 3; 0 turns crash recovery off)."""
    from airflow.sdk.configuration import conf

    return max(conf.getint("asl_airflow", "reconnect_tries", fallback=3), 0)


def reconnect_delay() -> float:
    """Seconds before such a re-run (``[asl_airflow] reconnect_delay``, default 5): Airflow's
    ``retry_delay`` for failures no retry policy sees (a killed task process, a heartbeat timeout)."""
    from airflow.sdk.configuration import conf

    return max(conf.getfloat("asl_airflow", "reconnect_delay", fallback=5.0), 0.0)


def pull_record(ti: Any, task_id: str, key: str, index: int) -> Any:
    """The XCom ``key`` that ``task_id`` pushed at map index ``index`` (-1: unmapped), or None.

    A task that Step Functions did not enter skips and pushes nothing, and the Task SDK logs an
    ``[error] XCom not found`` for every XCom asked for by key that is not there: one per
    skipped branch task at each join, one per path a Choice did not take. So an unmapped task's
    XComs are listed (that request answers an empty list, quietly), and a mapped one is asked for
    only when it did not end skipped (whose records, of branches stopped inside a Map's items, are
    then left out of the history)."""
    if index < 0:
        from airflow.sdk.execution_time.xcom import XCom

        for value in XCom.get_all(key=key, dag_id=ti.dag_id, task_id=task_id, run_id=ti.run_id) or []:
            if value is not None:
                return value
        return None
    skipped = ti.get_ti_count(dag_id=ti.dag_id, map_index=index, task_ids=[task_id], run_ids=[ti.run_id],
                              states=["skipped", "upstream_failed", "removed"])
    if skipped:
        return None
    return ti.xcom_pull(task_ids=task_id, key=key, map_indexes=index)


def min_defer_seconds() -> float:
    """``[asl_airflow] min_defer_seconds`` (default 5): the shortest deferral this deployment makes.

    A deferral that comes back within a second or two races Airflow's scheduler: the deferring
    worker's "success" reaches the executor's event queue, the trigger fires, the task is queued
    again, and only then does the scheduler read that event; LocalExecutor then fails the task
    ("finished with state success, but the task instance's state attribute is queued"; upstream
    apache/airflow#67287 and #72716, unreleased). Seen on 2 cores: every 1 s poll loop and every
    3 s Parallel Wait branch failed some runs. So a Wait shorter than this waits in the worker (it
    holds a slot for at most this long), and a deferred Task's trigger event is held until this
    long after the deferral (:class:`~asl_airflow.airflow.triggers.AslHoldTrigger`). 0 always defers.
    """
    from airflow.sdk.configuration import conf

    return max(conf.getfloat("asl_airflow", "min_defer_seconds", fallback=5.0), 0.0)


def defers(context: Any, moment: datetime, deadline: datetime | None = None) -> bool:
    """Whether a wait until ``moment`` defers (True), or is short enough (below
    :func:`min_defer_seconds`) to wait in the worker. Under ``dag.test()`` (no executor, no race)
    and when the execution's ``deadline`` falls inside the wait (the deferral's guard times it
    out), it always defers."""
    if inline_triggers(context) or (deadline is not None and deadline < moment):
        return True
    return (moment - datetime.now(UTC)).total_seconds() >= min_defer_seconds()


def inline_triggers(context: Any) -> bool:
    """Whether this run is a ``dag.test()``, which runs one task at a time and a deferred task's
    trigger inline, blocking every other task until it fires. A Parallel branch must not block its
    siblings (the first to fail stops the others), so there a branch's Wait is polled by rescheduling
    the task (:func:`reschedule_until`) instead; real deployments defer."""
    return getattr(context["dag_run"], "triggering_user_name", None) == "dag_test"


def reschedule_until(moment: datetime) -> None:
    """Hand the worker back and run this task again at ``moment``, or sooner to see whether a
    sibling branch failed (``[asl_airflow] stop_poll_interval``)."""
    from airflow.sdk.exceptions import AirflowRescheduleException

    from asl_airflow.airflow.triggers import stop_poll_interval

    soon = datetime.now(UTC) + timedelta(seconds=stop_poll_interval())
    raise AirflowRescheduleException(reschedule_date=min(moment, soon))


def _task_deferred() -> type[BaseException]:
    from airflow.sdk.exceptions import TaskDeferred

    return TaskDeferred


def clear_number(context: Any) -> int:
    """How often the DAG run was cleared after it ended: its redrives."""
    return int(getattr(context.get("dag_run"), "clear_number", 0) or 0)


def _failed_records(context: Any, clears: int, record: dict[str, Any]) -> list[dict[str, Any]]:
    """The failed records of this task before the current redrive (for the redriven history), after
    keeping ``record`` among them when it is a failure a redrive may follow. AWS's redriven history
    is the old one (with its failed state and ``ExecutionFailed``), then ``ExecutionRedriven``, then
    the new events: clearing a task deletes its XCom record, so the store keeps the failure."""
    store = context.get("task_state_store")
    if store is None or (not clears and record["error"] is None):
        return []
    earlier = [r for r in (store.get(_FAILED_RECORDS) or []) if int(r.get("clear", 0)) < clears] if clears else []
    if record["error"] is not None:
        store.set(_FAILED_RECORDS, [*earlier, {"clear": clears, "events": record["events"], "error": record["error"],
                                              "timed_out": bool(record.get("timed_out"))}])
    return earlier


def wait_until(state: dict[str, Any], data: Any, env: states.StateEnv, ql: str) -> datetime:
    """When a Wait state ends: its timestamp, or now plus its seconds (the trigger's moment)."""
    kind, value = states.wait_target(state, data, env, ql)
    return value if kind == "timestamp" else clock.utcnow() + timedelta(seconds=float(value))


def evaluation_failed(events: list[dict[str, Any]], error: AslError, state_name: str) -> list[dict[str, Any]]:
    """Step Functions writes ``EvaluationFailed`` when a state's own JSONata evaluation fails."""
    if error.error == asl_errors.QUERY_EVALUATION_ERROR:
        details = {k: v for k, v in (("error", error.error), ("cause", error.cause)) if v is not None}
        events.append(_event("EvaluationFailed", "evaluationFailedEventDetails", {**details, "state": state_name}))
    return events


def _event(type_: str, details_key: str | None, details: dict[str, Any] | None) -> dict[str, Any]:
    event: dict[str, Any] = {"timestamp": iso_now(), "type": type_}
    if details_key:
        event[details_key] = details or {}
    return event


def _check_size(value: Any, state_name: str) -> None:
    """Step Functions' 256 KiB payload limit, unless XComs go to object storage."""
    if not _object_storage_xcom():
        states.check_size(value, state_name)


def _object_storage_xcom() -> bool:
    from airflow.sdk.configuration import conf

    backend = conf.get("core", "xcom_backend", fallback="") or ""
    return "XComObjectStorageBackend" in backend
