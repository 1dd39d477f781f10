"""Parallel, Map and loops as Airflow tasks.

A Parallel or Map state is an *entry* task (evaluates the branch input or the items and hands them
over), the branches' or items' own tasks (TaskGroups; a mapped TaskGroup for Map items) and a *join*
task. The join replays what the branch tasks recorded through the reference interpreter's own
Parallel/Map code (:class:`~asl_airflow.asl.interpreter.Interpreter` with its branch hooks answered from
the records), so the output array, ResultSelector/ResultPath, tolerated failures, Catch and the
history are exactly the interpreter's.

A loop (a strongly connected set of states) cannot be an Airflow graph, so it is one *region* task
that runs its states through the reference interpreter, deferring on each of its Wait states.

The first branch to fail stops the others, as Step Functions does (a race such as AWS's
"either-or parallel" pattern depends on it). Airflow gives no task a way to stop another, so each
task inside a branch *watches* its Parallel: the compiler gives it the ids of the branches' own state
tasks (``stop_watch``: a nested Parallel/Map counts through its join, so a failure it catches does not
count) and the task asks, through the Task SDK, whether one of them ended ``failed``:

- before a state starts (``check_bounds``): it then skips, doing no AWS work; its successors skip;
- while deferred (a Wait, a region's Wait, a ``.sync`` or callback Task): the trigger is wrapped in
  ``AslDeadlineTrigger``, which asks every ``[asl_airflow] stop_poll_interval`` seconds and fires a
  stop event; the task records its ``<Type>StateAborted`` event and ends skipped. Under
  ``dag.test()``, which runs one task at a time and each trigger inline (a deferred branch would block
  its siblings), a branch's Waits are rescheduled instead and look again at each run;
- while waiting in the worker (a Wait shorter than ``min_defer_seconds``, a region's retry delay):
  the sleep is cut in slices of ``stop_poll_interval`` with the same question between them.

The join keeps ``all_done``: with the branches stopped within a poll interval, it runs at once. It
replays the records through the interpreter's race (:mod:`asl_airflow.asl.race`): a stopped branch
replays as a branch that waits until the failing sibling stops it, so the history (failing branch,
then ``...StateAborted`` of the stopped ones, then ``ParallelStateFailed``) and the error that wins
are the local engine's. A join whose enclosing Parallel is stopped records ``ParallelStateAborted``.
The same watch and wrapper also end a branch task at the state machine's ``TimeoutSeconds``.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from airflow.sdk.exceptions import AirflowSkipException, DownstreamTasksSkipped

from asl_airflow.airflow.operators import (
    ENTRY_KEY,
    STATE_KEY,
    AslStateOperator,
    clear_number,
    defers,
    execution_info,
    inline_triggers,
    map_index,
    pull_record,
    reschedule_until,
    wait_until,
)
from asl_airflow.asl import clock, race, states
from asl_airflow.asl import errors as asl_errors
from asl_airflow.asl.context import iso_now
from asl_airflow.asl.errors import AslError
from asl_airflow.asl.interpreter import BranchFailed, Interpreter, iteration_inputs, read_items

_REGION_PROGRESS = "asl_region"


def _invoker(aws_conn_id: str, region_name: str | None, state_machine_name: str | None = None) -> Any:
    """Service calls made from inside an interpreter run (loop regions, ItemReader, ResultWriter);
    with ``[asl_airflow] mock_config`` set, the test case's mocked states answer first."""
    from asl_airflow.integrations.invoker import LocalInvoker

    invoker = LocalInvoker(aws_conn_id=aws_conn_id, region_name=region_name)
    if state_machine_name is None:
        return invoker
    from asl_airflow.airflow.mocking import mocked_invoker

    return mocked_invoker(state_machine_name, invoker)


def _max_map_length() -> int:
    from airflow.sdk.configuration import conf

    return conf.getint("core", "max_map_length", fallback=1024)


class AslEntryOperator(AslStateOperator):
    """The start of a Parallel or Map state: evaluates what its branches or items receive.

    A Map pushes one XCom per item (``asl_item_<i>``) and returns the list of lanes the item
    TaskGroup is mapped over. More items than ``[core] max_map_length`` are spread over that many
    lanes, each running its items one after the other through the reference interpreter.
    When the evaluation fails, nothing runs below and the join reports the error exactly as Step
    Functions does (it evaluates again, with the same result).
    """

    def __init__(self, *, aws_conn_id: str = "aws_default", region_name: str | None = None,
                 branch_starts: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.branch_starts = branch_starts or []  # Parallel: the first task of each branch

    def execute(self, context: Any) -> Any:
        data, variables = self.state_input(context)
        ti = context["ti"]
        env = self.env(context, variables)
        entry: dict[str, Any] = {"data": data, "variables": variables, "entered": env.entered_time,
                                 "input": None, "failed": False, "lanes": None, "base": self.event_base}
        try:
            if self.state_type == "Parallel":
                entry["input"] = states.parallel_branch_input(self.state, data, env, self.query_language)
                ti.xcom_push(key=ENTRY_KEY, value=entry)
                return None
            inputs = self._item_inputs(data, env)
        except AslError:
            entry["failed"] = True
            ti.xcom_push(key=ENTRY_KEY, value=entry)
            if self.branch_starts:  # inside a Map's items: only this item's branches
                index = map_index(ti)
                skip = self.branch_starts if index < 0 else [(t, index) for t in self.branch_starts]
                raise DownstreamTasksSkipped(tasks=skip) from None
            return []
        limit = _max_map_length()
        if len(inputs) <= limit:
            for index, item in enumerate(inputs):
                ti.xcom_push(key=f"asl_item_{index}", value=item)
            lanes = len(inputs)
        else:
            size = math.ceil(len(inputs) / limit)
            lanes = math.ceil(len(inputs) / size)
            entry["lanes"] = size
            for lane in range(lanes):
                chunk = range(lane * size, min((lane + 1) * size, len(inputs)))
                ti.xcom_push(key=f"asl_item_{lane}", value=[[i, inputs[i]] for i in chunk])
        ti.xcom_push(key=ENTRY_KEY, value=entry)
        return list(range(lanes))

    def _item_inputs(self, data: Any, env: states.StateEnv) -> list[Any]:
        ql = self.query_language
        if "ItemReader" in self.state:
            invoker = _invoker(self.aws_conn_id, self.region_name, self.state_machine_name)
            items = read_items(self.state, data, env, ql, invoker)
        else:
            items = states.map_items(self.state, data, env, ql)
        return iteration_inputs(self.state, data, items, env, ql)


class _Recorded:
    """What one branch or item did, read back from its tasks' records. ``stopped``: the branch was
    stopped because a sibling failed (its last ``stopped`` events are what the stop wrote);
    ``unfinished``: a state it entered left no record (it skipped, seeing a sibling's failure)."""

    def __init__(self, output: Any = None, error: dict[str, Any] | None = None,
                 events: list[dict[str, Any]] | None = None, stopped: int | None = None,
                 unfinished: bool = False) -> None:
        self.output = output
        self.error = error
        self.events = events or []
        self.stopped = stopped
        self.unfinished = unfinished

    def asl_error(self) -> AslError:
        assert self.error is not None
        return AslError(self.error.get("Error"), self.error.get("Cause"))


def walk(records: dict[str, dict[str, Any] | None], start: str, redrive: int = 0) -> _Recorded:
    """Follow a branch from its first state through the records of the states it entered.

    In a redriven run (``redrive``: the DAG run's clear number) a state that completed before the
    redrive was not run again: it hands on its output but writes no events, as AWS's redriven
    history holds only what ran again (its old events are in the history before the redrive)."""
    events: list[dict[str, Any]] = []
    name: str | None = start
    seen = 0
    while name is not None:
        record = records.get(name)
        seen += 1
        if record is None or seen > len(records) + 1:
            return _Recorded(error={"Error": asl_errors.RUNTIME,
                                    "Cause": f"State {name!r} did not finish (its task failed without a result)"},
                             events=events, unfinished=record is None)
        if int(record.get("clear") or 0) == redrive:
            events.extend(record.get("events") or [])
        if record.get("stopped") is not None:
            return _Recorded(events=events, stopped=int(record["stopped"]))
        if record.get("error") is not None:
            return _Recorded(error=record["error"], events=events)
        if record.get("next") is None:
            return _Recorded(output=record.get("output"), events=events)
        name = record["next"]
    return _Recorded(events=events)


#: the location :func:`~asl_airflow.asl.interpreter.locate` puts in front of a state's own error
_LOCATION = re.compile(r"An error occurred while executing the state '(?P<name>.+?)' "
                       r"\(entered at the event id #(?P<id>\d+)\)\.")


def relocated(recorded: _Recorded, base: int) -> _Recorded:
    """``recorded`` with the located causes its states wrote placed in the execution's history.

    A state inside a branch or item cannot know where the join will put its events (its siblings
    run at the same time): its tasks count ids from the branch's start, so ``#3`` is the branch's
    third event. Once the join knows the branch's events follow event ``base``, every such cause
    (in the branch's error, the data a Catch handed on, its events' inputs and outputs) becomes
    ``#(base + 3)``. Only a location that names the state the branch entered at that event is
    moved, so a cause the branch received in its input keeps the id it had."""
    entered = {number: event["stateEnteredEventDetails"].get("name")
               for number, event in enumerate(recorded.events, start=1) if "stateEnteredEventDetails" in event}
    if not base or not entered:
        return recorded

    def move(match: re.Match[str]) -> str:
        number = int(match.group("id"))
        if entered.get(number) not in _unescaped(match.group("name")):
            return match.group(0)
        return f"{match.group(0)[:match.start('id') - match.start()]}{base + number})."

    def fix(value: Any) -> Any:
        if isinstance(value, str):
            return _LOCATION.sub(move, value) if "(entered at the event id #" in value else value
        if isinstance(value, dict):
            return {key: fix(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fix(item) for item in value]
        return value

    return _Recorded(fix(recorded.output), fix(recorded.error), fix(recorded.events), recorded.stopped,
                     recorded.unfinished)


def _unescaped(name: str) -> list[str]:
    """A state name as found in a cause: as written, and unescaped once per level of JSON text
    it sits in (an event's ``input`` holds the data as JSON text)."""
    forms = [name]
    while "\\" in name:
        try:
            name = json.loads(f'"{name}"')
        except ValueError:
            break
        forms.append(name)
    return forms


def settle(recorded: dict[int, _Recorded], stopped: bool) -> None:
    """Branches that did not finish were stopped: by a sibling's failure, or (``stopped``) because
    a branch of an enclosing Parallel failed. Otherwise an unfinished branch stays an error."""
    if stopped or any(r.error is not None and not r.unfinished for r in recorded.values()):
        for r in recorded.values():
            if r.unfinished:
                r.error, r.stopped, r.unfinished = None, 0, False


class _Replay(Interpreter):
    """The reference interpreter answering its branch/iteration hooks from recorded results.

    A stopped branch replays as a branch that waits until the race (:mod:`asl_airflow.asl.race`)
    stops it: its events up to the stop, then, when a sibling's failure (replayed in branch order,
    as the local engine runs them) or the enclosing Parallel's stop reaches it, the aborted events it
    recorded. So the join writes the history the local engine writes for the same race.
    """

    def __init__(self, branches: dict[int, _Recorded], invoker: Any = None, stopped: bool = False,
                 event_base: int = 0) -> None:
        # the quota of 25,000 events counts the events before the state (event_offset), as a region's
        super().__init__({}, invoker=invoker, sleep=lambda seconds: None, event_base=event_base,
                         event_offset=event_base)
        self.recorded = branches
        self.stopped = stopped  # a branch of an enclosing Parallel failed: this state is stopped too
        self.stopped_at: int | None = None  # events before the stop reached this state

    def can_wait(self, machine: dict[str, Any], index: int) -> bool:
        recorded = self.recorded.get(index)
        return (recorded.stopped is not None) if recorded is not None else self.stopped

    def wait(self, seconds: float) -> None:
        if race.current_branch() is not None:
            super().wait(seconds)  # a stopped branch waits for its stop
            return
        # every branch left was stopped: by the enclosing Parallel, or (records from an unexpected
        # order of events) by nothing this join can see
        if self.stopped:
            self.stopped_at = len(self.history.events)
            raise race.BranchStopped()
        raise AslError(asl_errors.RUNTIME, "A branch stopped although no other branch failed")

    def _result(self, index: int, add_events: bool) -> Any:
        recorded = self.recorded.get(index) or (_Recorded(stopped=0) if self.stopped else _Recorded(
            error={"Error": asl_errors.RUNTIME, "Cause": f"branch {index} did not run"}))
        if add_events:  # its located causes count from where its events land in this history
            recorded = relocated(recorded, self.event_base + len(self.history.events))
        if recorded.stopped is not None:
            cut = len(recorded.events) - recorded.stopped
            if add_events:
                self.history.extend(recorded.events[:cut])
            try:
                self.wait(math.inf)
            except race.BranchStopped as stop:
                if add_events and not stop.quiet:
                    self.history.extend(recorded.events[cut:])
                raise
            raise AslError(asl_errors.RUNTIME, f"branch {index} did not finish")
        if add_events:
            self.history.extend(recorded.events)
        if recorded.error is not None:
            error = recorded.asl_error()
            error.located = True  # type: ignore[attr-defined]
            raise BranchFailed(error)
        return recorded.output

    def branch(self, machine: dict[str, Any], input_: Any, env: states.StateEnv, ql: str, index: int) -> Any:
        return self._result(index, True)

    def iteration(self, machine: dict[str, Any], input_: Any, env: states.StateEnv, ql: str, index: int) -> Any:
        return self._result(index, True)

    def child_iteration(self, machine: dict[str, Any], input_: Any, env: states.StateEnv, ql: str,
                        index: int) -> Any:
        try:
            return self._result(index, False)
        except BranchFailed as failed:
            raise failed.error from None


class AslJoinOperator(AslStateOperator):
    """The end of a Parallel or Map state: assembles the result from the branch/item records."""

    def __init__(self, *, entry_task_id: str, branch_tails: list[dict[str, str]], branch_starts: list[str],
                 mapped_items: bool = False, item_head: str | None = None, aws_conn_id: str = "aws_default",
                 region_name: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")  # runs whatever the branches did
        super().__init__(**kwargs)
        self.join_entry_task_id = entry_task_id
        self.branch_tails = branch_tails  # per branch: state name -> the task holding its record
        self.branch_starts = branch_starts  # per branch: its StartAt
        self.mapped_items = mapped_items
        self.item_head = item_head  # Map: the first task of the item processor (records lanes run in a batch)
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name

    def execute(self, context: Any) -> Any:
        ti = context["ti"]
        own_index = map_index(ti)
        entry = pull_record(ti, self.join_entry_task_id, ENTRY_KEY, own_index)
        if entry is None:
            raise AirflowSkipException(f"Step Functions would not enter {self.state_name!r} in this execution")
        deadline = self.execution_deadline(context)
        if deadline is not None and clock.utcnow() >= deadline:
            self.time_out(context, [])
        stopped = self.parallel_failed(context)  # an enclosing Parallel's branch failed
        redrive = clear_number(context)
        recorded = {} if entry["failed"] else (
            self._items(ti, entry, redrive) if self.mapped_items else self._branches(ti, own_index, redrive))
        settle(recorded, stopped)
        invoker = None
        if "ResultWriter" in self.state or "ItemReader" in self.state:
            invoker = _invoker(self.aws_conn_id, self.region_name, self.state_machine_name)
        self.event_base = int(entry.get("base") or 0)
        replay = _Replay(recorded, invoker, stopped, self.event_base)
        variables = entry["variables"] or {}
        env = states.StateEnv(execution_info(context, self.state_machine_name), self.state_name, variables,
                              entry["entered"], state_type=self.state_type)
        try:
            outcome = replay.run_state(self.state_name, self.state, entry["data"], env, self.query_language)
        except race.BranchStopped:  # stopped with its enclosing branch: the record keeps the aborted events
            events = replay.history.events
            stop_events = len(events) - (replay.stopped_at if replay.stopped_at is not None else len(events))
            self.push_record(context, None, None, None, events, stopped=stop_events)
            raise AirflowSkipException(f"{self.state_name!r} stopped: a branch of its enclosing Parallel "
                                       "failed") from None
        except AslError as exc:
            self.fail_execution(context, exc, replay.history.events)
            raise
        except asl_errors.HistoryLimitExceeded as exc:  # FAILED whatever Catch says
            self.fail_execution(context, AslError(exc.error or asl_errors.RUNTIME, exc.cause), replay.history.events)
        return self.finish(context, outcome, replay.history.events, exited=False)

    def _branches(self, ti: Any, index: int, redrive: int) -> dict[int, _Recorded]:
        tails = sorted({task_id for branch in self.branch_tails for task_id in branch.values()})
        by_task = {task_id: pull_record(ti, task_id, STATE_KEY, index) for task_id in tails}
        out = {}
        for number, (names, start) in enumerate(zip(self.branch_tails, self.branch_starts, strict=True)):
            out[number] = walk({name: by_task.get(task_id) for name, task_id in names.items()}, start, redrive)
        return out

    def _items(self, ti: Any, entry: dict[str, Any], redrive: int) -> dict[int, _Recorded]:
        names = self.branch_tails[0]
        start = self.branch_starts[0]
        out: dict[int, _Recorded] = {}
        if entry.get("lanes"):
            for record in ti.xcom_pull(task_ids=[self.item_head], key=STATE_KEY) or []:
                again = int((record or {}).get("clear") or 0) == redrive  # this lane ran in this redrive
                for item in (record or {}).get("batch") or []:
                    out[item["index"]] = _Recorded(item.get("output"), item.get("error"),
                                                   item.get("events") if again else [])
            return out
        tails = sorted(set(names.values()))
        per_lane: dict[int, dict[str, dict[str, Any]]] = {}
        for task_id in tails:
            for record in ti.xcom_pull(task_ids=[task_id], key=STATE_KEY) or []:
                if record is not None:
                    per_lane.setdefault(record["index"], {})[task_id] = record
        for lane, by_task in per_lane.items():
            out[lane] = walk({name: by_task.get(task_id) for name, task_id in names.items()}, start, redrive)
        return out


class AslRegionOperator(AslStateOperator):
    """A loop (or a state Airflow cannot lay out as tasks) run as one task by the reference interpreter.

    The region's states run one after the other exactly as the local engine runs them; at a Wait
    state of the region the task defers (no worker slot held) and resumes after it. The region
    ends when a state chooses a state outside it; that state's task takes over.
    """

    def __init__(self, *, members: list[str], machine_states: dict[str, dict[str, Any]],
                 aws_conn_id: str = "aws_default", region_name: str | None = None, **kwargs: Any) -> None:
        names = list(members)
        kwargs.setdefault("task_display_name", names[0] if len(names) == 1 else "loop: " + " → ".join(names))
        if states.task_states({"States": {name: machine_states[name] for name in names}}):
            # re-running the region after a crash would repeat its service calls from the region's
            # start: a crash fails the run instead (a region keeps no per-call submission record)
            kwargs.setdefault("retries", 0)
        super().__init__(state_name=names[0], state=machine_states[names[0]], **kwargs)
        self.members = names
        self.names = names
        self.machine_states = {name: machine_states[name] for name in names}
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        if len(names) > 1:
            self.state_type = "Loop"

    def execute(self, context: Any) -> Any:
        saved = context["task_state_store"].get(_REGION_PROGRESS) if self.stop_watch else None
        if isinstance(saved, dict) and saved.get("until") and saved.get("try") == context["ti"].try_number:
            return self._wait_again(context, saved)  # rescheduled at a Wait under dag.test()
        data, variables, start = self.chosen_input(context)
        progress = {"name": start, "data": data, "variables": variables, "events": [], "waited": False,
                    "base": self.event_base}
        return self._run(context, progress)

    def resume_region(self, context: Any, event: Any = None) -> Any:
        progress = context["task_state_store"].get(_REGION_PROGRESS)
        self.guarded_end(context, event, progress["events"], "Wait")  # timed out, or a sibling branch failed
        clock.arrive(datetime.fromisoformat(progress["until"]))  # --time-scale: the Wait's simulated end
        progress["waited"] = True
        return self._run(context, progress)

    def _wait_again(self, context: Any, progress: dict[str, Any]) -> Any:
        """At a Wait of the region, rescheduled (``dag.test()``, inside a Parallel branch): timed out,
        stopped by a failing sibling branch, done, or not yet."""
        deadline = self.execution_deadline(context)
        if deadline is not None and clock.utcnow() >= deadline:
            self.time_out(context, progress["events"])
        if self.parallel_failed(context):
            self.stop_branch(context, progress["events"], "Wait")
        until = datetime.fromisoformat(progress.get("real_until") or progress["until"])
        if until > datetime.now(UTC):
            reschedule_until(until)
        clock.arrive(datetime.fromisoformat(progress["until"]))
        progress["waited"] = True
        progress.pop("until", None)
        return self._run(context, progress)

    def _watching_sleep(self, context: Any, interpreter: Interpreter, stop: dict[str, int]) -> Any:
        """``time.sleep`` in slices of ``[asl_airflow] stop_poll_interval``, raising
        :class:`~asl_airflow.asl.race.BranchStopped` (the interpreter then writes the waiting state's
        ``...StateAborted``) as soon as a sibling branch failed; ``stop["at"]``: the events before it."""
        import time

        from asl_airflow.airflow.triggers import stop_poll_interval

        simulated = clock.current()

        def sleep(seconds: float) -> None:
            if simulated is not None:  # --time-scale: wait scale x seconds, the clock moves by all of it
                seconds = simulated.pass_time(seconds)
            end = time.monotonic() + max(seconds, 0.0)
            while True:
                if self.parallel_failed(context):
                    stop["at"] = len(interpreter.history.events)
                    raise race.BranchStopped()
                left = end - time.monotonic()
                if left <= 0:
                    return
                time.sleep(min(left, stop_poll_interval()))

        return sleep

    def _run(self, context: Any, progress: dict[str, Any]) -> Any:
        deadline = self.execution_deadline(context)
        invoker = _invoker(self.aws_conn_id, self.region_name, self.state_machine_name)
        self.event_base = int(progress.get("base") or 0)  # also after a deferral, in a new instance
        # event_offset: the quota of 25,000 events counts the execution's events before the region
        # (inside a branch or item, those of the branch or item: the join places them among its siblings')
        interpreter = Interpreter({"QueryLanguage": self.query_language}, invoker, event_base=self.event_base,
                                  event_offset=self.event_base,
                                  deadline=deadline.timestamp() if deadline is not None else None,
                                  **_timing())
        interpreter.history.events = progress["events"]
        stop: dict[str, int] = {}
        if self.stop_watch:  # waits in the worker (short Waits, retry delays) watch the siblings too
            interpreter.sleep = self._watching_sleep(context, interpreter, stop)
        name, data, variables = progress["name"], progress["data"], progress["variables"] or {}
        execution = execution_info(context, self.state_machine_name)
        try:
            while name in self.machine_states:
                state = self.machine_states[name]
                env = states.StateEnv(execution, name, variables, iso_now(), state_type=state["Type"])
                ql = states.query_language(state, self.query_language)
                if state["Type"] == "Wait":
                    if progress.get("waited"):
                        progress["waited"] = False
                        outcome = states.wait_outcome(state, data, env, ql)
                        interpreter.history.state_exited("Wait", name, outcome.output)
                    else:
                        try:
                            moment: datetime | None = wait_until(state, data, env, ql)
                        except AslError:
                            moment = None  # the interpreter reports it, with its events
                        # a Wait shorter than [asl_airflow] min_defer_seconds is slept by the
                        # interpreter, here in the worker (operators.min_defer_seconds says why)
                        real = clock.real_moment(moment)
                        if moment is not None and real is not None and moment > clock.utcnow() and \
                                defers(context, real, clock.real_moment(self.execution_deadline(context))):
                            interpreter.history.state_entered("Wait", name, data)
                            context["task_state_store"].set(_REGION_PROGRESS, {
                                "name": name, "data": data, "variables": variables, "base": self.event_base,
                                "events": interpreter.history.events,
                                "until": moment.isoformat(), "real_until": real.isoformat(),
                                "try": context["ti"].try_number})
                            if self.stop_watch and inline_triggers(context):
                                reschedule_until(real)  # dag.test(): let the sibling branches run
                            from airflow.providers.standard.triggers.temporal import DateTimeTrigger

                            self.defer(trigger=self.guard(context, DateTimeTrigger(moment=real)),
                                       method_name="resume_region")
                        outcome = interpreter.run_state(name, state, data, env, ql)
                else:
                    outcome = interpreter.run_state(name, state, data, env, ql)
                data, name, variables = outcome.output, outcome.next, outcome.variables
        except AslError as exc:
            self.fail_execution(context, exc, interpreter.history.events)
            raise
        except asl_errors.ExecutionTimedOut:
            self.time_out(context, interpreter.history.events)
        except asl_errors.ExecutionStopped as exc:  # the history limit: FAILED whatever Catch says
            self.fail_execution(context, AslError(exc.error or asl_errors.RUNTIME, exc.cause),
                                interpreter.history.events)
        except race.BranchStopped:  # a sibling branch failed while the region waited in the worker
            events = interpreter.history.events
            self.push_record(context, None, None, None, events, stopped=len(events) - stop.get("at", len(events)))
            raise AirflowSkipException(f"{self.state_name!r} stopped: a branch of its Parallel failed, "
                                       "and Step Functions stops the other branches") from None
        return self.finish(context, states.Outcome(data, name, variables), interpreter.history.events, exited=False)


def run_lane(operator: AslStateOperator, context: Any, lane: list[list[Any]], variables: dict[str, Any]) -> None:
    """Items ``[[index, input], ...]`` of one lane, each a full run of the ItemProcessor through the
    reference interpreter; the record carries each item's output or error and events for the join."""
    results = []
    execution = execution_info(context, operator.state_machine_name)
    invoker = _invoker(getattr(operator, "aws_conn_id", "aws_default"), getattr(operator, "region_name", None),
                       operator.state_machine_name)
    for index, item_input in lane:
        interpreter = Interpreter({"QueryLanguage": operator.query_language}, invoker, **_timing())
        try:
            output = interpreter.run_states(operator.lane_processor, item_input, execution, dict(variables),
                                            language=operator.query_language)
            results.append({"index": index, "output": output, "error": None,
                            "events": interpreter.history.events})
        except AslError as exc:
            results.append({"index": index, "output": None, "events": interpreter.history.events,
                            "error": {"Error": exc.error, "Cause": exc.cause}})
    operator.push_record(context, None, None, None, [], None, batch=results)
    raise DownstreamTasksSkipped(tasks=[])  # the lane's other tasks skip themselves: nothing chose them



def _timing() -> dict[str, Any]:
    """The interpreter's sleep and clock: the simulated clock's under ``--time-scale``."""
    simulated = clock.current()
    return {} if simulated is None else {"sleep": simulated.sleep, "clock": simulated.now}
