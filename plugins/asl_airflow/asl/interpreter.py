"""The reference interpreter: runs a state machine in-process, as Step Functions would.

It is the semantic oracle for the Airflow engine and the ``--engine local`` runner. Service calls
(Task resources, a Map's ItemReader and ResultWriter) go through an ``invoker`` callable supplied by
the caller (the integrations layer), so this module never imports boto3 or Airflow; a machine
without Task states needs neither. Waits and retry delays go through ``sleep`` (inject a no-op in
tests; raise :class:`~asl_airflow.asl.errors.ExecutionAborted` from it to stop an execution).

Map iterations and Parallel branches run concurrently in effect (:mod:`asl_airflow.asl.race`): in
order, each until it would wait, so that the history is deterministic; the first failure stops the
others (``...StateAborted``), as on AWS. The events are those AWS writes (``MapStateStarted``, ...).

An execution is bounded as on AWS: its history holds at most 25,000 events (the last one is the
``ExecutionFailed`` with ``States.Runtime``), the state machine's ``TimeoutSeconds`` ends it
``TIMED_OUT`` even in the middle of a Wait, a retry delay or a service call, and every payload is
JSON of at most 256 KiB (``States.DataLimitExceeded``), checked before its text is built.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asl_airflow.asl import errors, race, retry, states, strictjson
from asl_airflow.asl.context import ExecutionInfo, iso_now
from asl_airflow.asl.history import History, details_key, dumps, resource_details, task_event_family

#: ``invoker(resource, parameters, state, env) -> result``; raises AslError on failure
Invoker = Callable[[str, Any, dict[str, Any], states.StateEnv], Any]

#: errors AWS reports with "An error occurred while executing the state ..." in front of the cause
_LOCATED = frozenset({errors.RUNTIME, errors.QUERY_EVALUATION_ERROR})
#: state types AWS records as ``<Type>StateAborted`` when a failing sibling branch stops them
_ABORTABLE = frozenset({"Task", "Wait", "Parallel", "Map"})


def _no_service(resource: str, parameters: Any, state: dict[str, Any], env: states.StateEnv) -> Any:
    raise errors.AslError(
        errors.RUNTIME, f"State {env.state_name!r} calls {resource!r} but no service integration is available"
    )


@dataclass
class ExecutionResult:
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, with_history: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
        }
        if with_history:
            out["history"] = self.history
        return out


class BranchFailed(Exception):
    """A Map iteration or Parallel branch failed with ``error`` (kept apart from the state's own errors)."""

    def __init__(self, error: errors.AslError) -> None:
        super().__init__(str(error))
        self.error = error


class Interpreter:
    """Runs one execution of a definition (a validated ASL document as a dict).

    ``event_offset``: history events the execution already spent before this interpreter runs
    (an Airflow region task continuing an execution): the 25,000-event quota counts them, so
    :class:`~asl_airflow.asl.errors.HistoryLimitExceeded` is raised at the same point as on AWS.
    ``event_base``: the id of the execution's event just before this interpreter's first one, when
    its events continue a history kept elsewhere (an Airflow task running part of an execution): the
    ``entered at the event id #N`` of a located cause (:func:`locate`) counts from it.
    ``deadline``: when the execution must end, in ``clock()`` seconds (``time.time()`` by default,
    so it can be computed in another process from the execution's start); :meth:`execute` sets it
    from the document's ``TimeoutSeconds`` when not given. Past it,
    :class:`~asl_airflow.asl.errors.ExecutionTimedOut` ends the execution: sleeps are cut at the
    deadline and a service call that is still running then is abandoned (it runs in a daemon thread).
    :meth:`execute` turns both into AWS's terminal events; callers of :meth:`run_states` or
    :meth:`run_state` catch :class:`~asl_airflow.asl.errors.ExecutionStopped` themselves.
    """

    def __init__(
        self,
        document: dict[str, Any],
        invoker: Invoker | None = None,
        sleep: Callable[[float], None] = time.sleep,
        *,
        event_offset: int = 0,
        event_base: int = 0,
        deadline: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.document = document
        self.invoker = invoker or _no_service
        self.sleep = sleep
        self.clock = clock
        self.deadline = deadline
        self.history = History(offset=event_offset)
        self.event_base = event_base
        self._checked: Any = None  # the last state output whose size was checked (the next input)
        self._entered: dict[str, tuple[int, dict[str, Any]]] = {}  # state name -> its last Entered event
        self._map_run_records: list[dict[str, Any]] | None = None  # the last map run's children (ResultWriter)
        self.replay: Any = None  # a redrive's record of the states that completed before (asl.redrive.Replay)

    # -- public ---------------------------------------------------------------------------------

    def execute(self, input_: Any = None, execution: ExecutionInfo | None = None,
                redrive: Any = None) -> ExecutionResult:
        """Run the whole execution. Raises :class:`~asl_airflow.asl.errors.InvalidExecutionInput`
        (nothing ran) for an input AWS's StartExecution would refuse. ``redrive`` (an
        :class:`asl_airflow.asl.redrive.Replay` of a failed execution) continues that execution: its
        history goes on after ``ExecutionRedriven``, and only what did not complete runs again."""
        if redrive is not None:
            input_ = redrive.input
            self.replay = redrive
        input_ = {} if input_ is None else input_
        check_execution_input(input_)
        execution = execution or ExecutionInfo(input=input_)
        if redrive is not None:
            execution.redrive_count = redrive.redrive_count
        if self.deadline is None and isinstance(self.document.get("TimeoutSeconds"), int | float):
            self.deadline = self.clock() + self.document["TimeoutSeconds"]
        if redrive is not None:
            self.history.events = [dict(event) for event in redrive.history]
            self.history.add("ExecutionRedriven", "executionRedrivenEventDetails",
                             {"redriveCount": redrive.redrive_count})
        else:
            self.history.add(
                "ExecutionStarted",
                "executionStartedEventDetails",
                {"input": dumps(input_), "roleArn": execution.role_arn},
            )
        try:
            output = self.run_states(self.document, input_, execution, {})
        except errors.ExecutionAborted:
            self.history.add("ExecutionAborted", None, terminal=True)
            return ExecutionResult("ABORTED", None, None, None, self.history.events)
        except errors.ExecutionTimedOut as exc:
            event = self.history.add("ExecutionTimedOut", "executionTimedOutEventDetails", {"error": exc.error},
                                     terminal=True)
            event["previousEventId"] = 0  # AWS's timer event follows no other event
            return ExecutionResult("TIMED_OUT", None, exc.error, exc.cause, self.history.events)
        except errors.ExecutionStopped as exc:
            self.history.add("ExecutionFailed", "executionFailedEventDetails",
                             {"error": exc.error, "cause": exc.cause}, terminal=True)
            return ExecutionResult(exc.status, None, exc.error, exc.cause, self.history.events)
        except errors.AslError as exc:
            self.history.add("ExecutionFailed", "executionFailedEventDetails", _error_details(exc), terminal=True)
            return ExecutionResult("FAILED", None, exc.error, exc.cause, self.history.events)
        self.history.add("ExecutionSucceeded", "executionSucceededEventDetails", {"output": dumps(output)},
                         terminal=True)
        return ExecutionResult("SUCCEEDED", output, None, None, self.history.events)

    # -- limits ---------------------------------------------------------------------------------

    def check_deadline(self) -> None:
        """Raise ExecutionTimedOut once the state machine's TimeoutSeconds has elapsed."""
        if self.deadline is not None and self.clock() >= self.deadline:
            raise errors.ExecutionTimedOut(self.document.get("TimeoutSeconds") or 0)

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds`` through the injected ``sleep``, but never past the deadline: a wait
        that would outlast it sleeps until the deadline, then the execution times out. Inside a
        racing Parallel branch or Map iteration, the branch hands its turn to the others instead
        (:mod:`~asl_airflow.asl.race`); the race itself waits here, deadline included."""
        branch = race.current_branch()
        if branch is not None:
            branch.block(seconds)
            return
        if self.deadline is not None:
            remaining = self.deadline - self.clock()
            if seconds >= remaining:
                self.sleep(max(0.0, remaining))
                raise errors.ExecutionTimedOut(self.document.get("TimeoutSeconds") or 0)
        self.sleep(seconds)

    def invoke(self, resource: str, parameters: Any, state: dict[str, Any], env: states.StateEnv) -> Any:
        """The service call, bounded by the Task's TimeoutSeconds (``States.Timeout``) and the
        execution's deadline: with either, the call runs in a daemon thread that is abandoned when
        time is up (its late result is discarded, as AWS discards a late task's)."""
        remaining = None if self.deadline is None else max(0.0, self.deadline - self.clock())
        if remaining is None and not env.timeout_seconds:
            return self.invoker(resource, parameters, state, env)
        deadline_first = remaining is not None and (not env.timeout_seconds or remaining <= env.timeout_seconds)
        limit = remaining if deadline_first else env.timeout_seconds
        outcome: list[Any] = []

        def call() -> None:
            try:
                outcome.append((True, self.invoker(resource, parameters, state, env)))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread as is
                outcome.append((False, exc))

        worker = threading.Thread(target=call, name=f"asl-task-{env.state_name}"[:60], daemon=True)
        worker.start()
        worker.join(limit)
        if not outcome:
            if deadline_first:
                raise errors.ExecutionTimedOut(self.document.get("TimeoutSeconds") or 0)
            raise errors.AslError(errors.TIMEOUT, None)
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    def _checked_size(self, value: Any, name: str) -> None:
        """States.DataLimitExceeded for a payload over 256 KiB, found before its text is built;
        States.Runtime for one nested too deeply to be written."""
        try:
            too_large = strictjson.size_exceeds(value, errors.PAYLOAD_LIMIT_BYTES)
        except strictjson.JsonError as exc:
            raise errors.AslError(
                errors.RUNTIME, f"The state/task '{name}' produced data that cannot be written as JSON: {exc}"
            ) from None
        if too_large:
            raise _too_large(name)

    def run_states(
        self,
        machine: dict[str, Any],
        input_: Any,
        execution: ExecutionInfo,
        variables: dict[str, Any],
        map_item: dict[str, Any] | None = None,
        language: str | None = None,
    ) -> Any:
        """Run a (sub-)machine from StartAt to its end; returns its output or raises AslError."""
        language = machine.get("QueryLanguage") or language or self.document.get("QueryLanguage", states.JSONPATH)
        name: str | None = machine["StartAt"]
        data = input_
        while name is not None:
            self.check_deadline()
            state = machine["States"][name]
            env = states.StateEnv(execution, name, variables, iso_now(), map_item=map_item,
                                  state_type=state["Type"])
            ql = states.query_language(state, language)
            outcome = self.run_state(name, state, data, env, ql)
            data, name, variables = outcome.output, outcome.next, outcome.variables
        return data

    def run_state(
        self, name: str, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str
    ) -> states.Outcome:
        type_ = state["Type"]
        if self.replay is not None:  # a redrive: a state occurrence that completed before is not run again
            replayed = self.replay.replayed(name, state, data, env, ql)
            if replayed is not None:
                return replayed
        if data is not self._checked:  # a branch's or an iteration's input was not checked yet
            self._checked_size(data, name)
        self.history.state_entered(type_, name, data)
        entered_id = len(self.history.events)
        self._entered[name] = (entered_id, self.history.events[-1])
        handler = getattr(self, f"_run_{type_.lower()}", None)
        if handler is None:
            raise errors.AslError(errors.RUNTIME, f"Unsupported state type {type_!r}")
        try:
            try:
                outcome = handler(state, data, env, ql)
                if type_ != "Fail":
                    unchecked = outcome.output is not data or data is not self._checked  # values are never mutated
                    if unchecked:
                        self._checked_size(outcome.output, name)
                    self.history.state_exited(type_, name, outcome.output)
                    text = self.history.events[-1]["stateExitedEventDetails"]["output"]
                    if unchecked and len(text) > errors.PAYLOAD_LIMIT_BYTES // 4 and \
                            len(text.encode("utf-8")) > errors.PAYLOAD_LIMIT_BYTES:  # exact, from the text
                        raise _too_large(name)
                    self._checked = outcome.output
            except RecursionError:
                raise errors.AslError(
                    errors.RUNTIME, f"The data is nested more than {strictjson.MAX_DEPTH} levels deep"
                ) from None
            except strictjson.JsonError as exc:
                raise errors.AslError(errors.RUNTIME, f"The state's output is not valid JSON: {exc}") from None
        except errors.AslError as exc:
            if not getattr(exc, "located", False) and \
                    getattr(locate(exc, name, self.event_base + entered_id), "located", False):
                exc.args = (f"{exc.error}: {exc.cause}",)
            raise
        except race.BranchStopped as stopped:  # a sibling branch failed while this state waited
            if not stopped.quiet and type_ in _ABORTABLE:
                self.history.add(f"{type_}StateAborted", None)
            raise
        return outcome

    # -- error handling ---------------------------------------------------------------------------

    def _evaluation_failed(self, exc: errors.AslError, name: str) -> None:
        if exc.error == errors.QUERY_EVALUATION_ERROR:
            details = _error_details(exc)
            details["state"] = name
            self.history.add("EvaluationFailed", "evaluationFailedEventDetails", details)

    def _catch(
        self, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str, exc: errors.AslError
    ) -> states.Outcome:
        catcher = retry.find_catcher(state.get("Catch", []), exc.error)
        if catcher is None:
            raise exc
        return states.catch_outcome(catcher, data, exc, env, ql)

    def _recover(self, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str,
                 failure: errors.AslError | BranchFailed, counters: list[int], failed_event: str,
                 ) -> states.Outcome | None:
        """After a Parallel or Map failed: None when a retrier fires (its delay slept: run the state
        again), else the Catch's outcome, or the error raised. A failing branch is retried whatever
        its error; the state's own States.Runtime goes straight to Catch, with no retry and no
        ``...StateFailed`` event."""
        exc = failure.error if isinstance(failure, BranchFailed) else failure
        if isinstance(failure, BranchFailed) or exc.error != errors.RUNTIME:
            step = retry.next_retry(state.get("Retry", []), exc.error, counters)
            if step.retry:
                self.wait(step.delay or 0)
                return None
            self.history.add(failed_event, None)
        return self._catch(state, data, env, ql, exc)

    def _located(self, exc: errors.AslError, name: str) -> errors.AslError:
        """The state's own evaluation error with AWS's location prefix (so that Catch sees it too)."""
        if exc.error in _LOCATED and not getattr(exc, "located", False):
            known = self._entered.get(name)  # a lookup, not a scan: a retry storm would be quadratic
            entered = known[0] if known and len(self.history.events) >= known[0] and \
                self.history.events[known[0] - 1] is known[1] else _last_entered(self.history.events, name)
            locate(exc, name, self.event_base + entered)
        return exc

    # -- state types ----------------------------------------------------------------------------

    def _run_pass(self, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str) -> states.Outcome:
        return self._guard(env, states.run_pass, state, data, env, ql)

    def _run_succeed(self, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str) -> states.Outcome:
        return self._guard(env, states.run_succeed, state, data, env, ql)

    def _run_choice(self, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str) -> states.Outcome:
        return self._guard(env, states.run_choice, state, data, env, ql)

    def _run_fail(self, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str) -> states.Outcome:
        raise self._guard(env, states.fail_error, state, data, env, ql)

    def _run_wait(self, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str) -> states.Outcome:
        target = self._guard(env, states.wait_target, state, data, env, ql)
        self.wait(states.wait_seconds(target))
        return self._guard(env, states.wait_outcome, state, data, env, ql)

    def _guard(self, env: states.StateEnv, work: Callable[..., Any], *args: Any) -> Any:
        """Run a state's own evaluation, writing EvaluationFailed for JSONata errors as AWS does."""
        try:
            return work(*args)
        except errors.ExecutionFailed:
            raise
        except errors.AslError as exc:
            self._evaluation_failed(exc, env.state_name)
            raise

    def _run_task(self, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str) -> states.Outcome:
        resource = state["Resource"]
        family = task_event_family(resource)
        counters: list[int] = []
        if resource.endswith(".waitForTaskToken") and env.task_token is None:
            env.task_token = uuid.uuid4().hex  # $$.Task.Token: the invoker hands it to the service
        while True:
            try:
                try:
                    parameters = self._guard(env, states.task_parameters, state, data, env, ql)
                    env.timeout_seconds, env.heartbeat_seconds = states.task_timeouts(state, data, env, ql)
                except errors.AslError as exc:
                    raise self._located(exc, env.state_name) from None
                self._checked_size(parameters, env.state_name)
                self._task_scheduled(family, resource, parameters, state, env)
                self.history.add(f"{family}Started", None)
                env.submitted = None
                result = self.invoke(resource, parameters, state, env)
                self._task_submitted(env, family, resource)
                try:
                    strictjson.check(result)
                except strictjson.JsonError as exc:
                    raise errors.AslError(errors.RUNTIME, f"The service's result is not valid JSON: {exc}") from None
                self._checked_size(result, env.state_name)
                self.history.add(
                    f"{family}Succeeded",
                    details_key(family, "Succeeded"),
                    {"output": dumps(result), **resource_details(family, resource)},
                )
                try:
                    return self._guard(env, states.task_output, state, data, result, env, ql)
                except errors.AslError as exc:
                    raise self._located(exc, env.state_name) from None
            except errors.AslError as exc:
                self._task_submitted(env, family, resource)
                if not getattr(exc, "located", False):
                    what = "TimedOut" if exc.error == errors.TIMEOUT else "Failed"
                    self.history.add(
                        f"{family}{what}", details_key(family, what),
                        {**_error_details(exc), **resource_details(family, resource)},
                    )
                step = retry.next_retry(state.get("Retry", []), exc.error, counters)
                if step.retry:
                    self.wait(step.delay or 0)
                    env.retry_count += 1
                    continue
                return self._catch(state, data, env, ql, exc)

    def _task_submitted(self, env: states.StateEnv, family: str, resource: str) -> None:
        """``TaskSubmitted``, once per attempt, when the invoker reports a submitted job or callback."""
        if env.submitted is None:
            return
        details: dict[str, Any] = dict(resource_details(family, resource))
        if env.submitted:
            details["output"] = dumps(env.submitted)
        self.history.add("TaskSubmitted", "taskSubmittedEventDetails", details)
        env.submitted = None

    def _task_scheduled(self, family: str, resource: str, parameters: Any, state: dict[str, Any],
                        env: states.StateEnv | None = None) -> None:
        details: dict[str, Any] = {"parameters": dumps(parameters)}
        if family in ("LambdaFunction", "Activity"):
            details = {"resource": resource, "input": dumps(parameters)}
            if family == "Activity" and env is not None:  # ActivityScheduledEventDetails carries the limits
                limits = (("timeoutInSeconds", env.timeout_seconds), ("heartbeatInSeconds", env.heartbeat_seconds))
                details.update((key, int(value)) for key, value in limits if value)
        else:
            details.update(resource_details(family, resource))
        self.history.add(f"{family}Scheduled", details_key(family, "Scheduled"), details)

    # -- Parallel -------------------------------------------------------------------------------

    def _run_parallel(self, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str) -> states.Outcome:
        counters: list[int] = []
        while True:
            try:
                try:
                    branch_input = self._guard(env, states.parallel_branch_input, state, data, env, ql)
                except errors.AslError as exc:
                    raise self._located(exc, env.state_name) from None
                self.history.add("ParallelStateStarted", None)
                start = len(self.history.events)
                branches = state["Branches"]
                jobs = [_bind(self.branch, machine, branch_input, env, ql, index)
                        for index, machine in enumerate(branches)]
                outputs = race.race(jobs, [self.can_wait(m, i) for i, m in enumerate(branches)], self.wait)
                _merge_parallel_events(self.history.events, start)
                try:
                    return self._guard(env, states.parallel_output, state, data, outputs, env, ql)
                except errors.AslError as exc:
                    raise self._located(exc, env.state_name) from None
            except (errors.AslError, BranchFailed) as failure:
                outcome = self._recover(state, data, env, ql, failure, counters, "ParallelStateFailed")
                if outcome is not None:
                    return outcome

    def can_wait(self, machine: dict[str, Any], index: int) -> bool:
        """Whether branch/iteration ``index`` may wait, so it races in a thread of its own
        (:func:`~asl_airflow.asl.race.race`); the Airflow join answers from the records."""
        cache = self.__dict__.setdefault("_can_wait", {})
        if id(machine) not in cache:
            cache[id(machine)] = race.can_wait(machine)
        return cache[id(machine)]

    def branch(self, machine: dict[str, Any], input_: Any, env: states.StateEnv, ql: str, index: int) -> Any:
        """Parallel branch ``index``; raises :class:`BranchFailed`. The Airflow join overrides this
        (and :meth:`iteration`, :meth:`child_iteration`) to replay what the branch tasks recorded."""
        return self._run_branch(machine, input_, env, ql)

    def iteration(self, machine: dict[str, Any], input_: Any, env: states.StateEnv, ql: str, index: int) -> Any:
        """Inline Map iteration ``index``; raises :class:`BranchFailed`."""
        return self._run_branch(machine, input_, env, ql)

    def child_iteration(self, machine: dict[str, Any], input_: Any, env: states.StateEnv, ql: str,
                        index: int) -> Any:
        """Distributed Map item ``index``: a child execution outside this history; raises AslError."""
        child = Interpreter(self.document, self.invoker, self.sleep, deadline=self.deadline, clock=self.clock)
        try:
            return child.run_states(machine, input_, env.execution, {}, language=ql)
        except errors.HistoryLimitExceeded as exc:  # the child execution's own quota: that item fails
            raise errors.AslError(exc.error or errors.RUNTIME, exc.cause) from None

    def _run_branch(self, machine: dict[str, Any], input_: Any, env: states.StateEnv, ql: str,
                    variables: dict[str, Any] | None = None, map_item: dict[str, Any] | None = None) -> Any:
        """Run a branch or iteration; its variables are a copy (assignments inside stay inside)."""
        try:
            return self.run_states(machine, input_, env.execution,
                                   dict(env.variables if variables is None else variables),
                                   language=ql)
        except errors.AslError as exc:
            error = errors.AslError(exc.error, exc.cause)
            error.located = True  # type: ignore[attr-defined]
            raise BranchFailed(error) from exc

    # -- Map ------------------------------------------------------------------------------------

    def _run_map(self, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str) -> states.Outcome:
        name = env.state_name
        counters: list[int] = []
        distributed = states.is_distributed(state)
        while True:
            try:
                try:
                    items: list[Any] | None = None
                    if "ItemReader" not in state:
                        items = self._guard(env, states.map_items, state, data, env, ql)
                    self._guard(env, states.map_max_concurrency, state, data, env, ql)
                except errors.AslError as exc:
                    raise self._located(exc, name) from None
                self.history.add("MapStateStarted", "mapStateStartedEventDetails",
                                 {"length": len(items) if items is not None else 0})
                try:
                    tolerance = self._guard(env, states.map_tolerance, state, data, env, ql)
                except errors.AslError as exc:
                    raise self._located(exc, name) from None
                if distributed:
                    results = self._map_run(state, data, items, tolerance, env, ql)
                else:
                    results = self._inline_iterations(state, data, items or [], env, ql)
                self.history.add("MapStateSucceeded", None)
                if "ResultWriter" in state:
                    resource, params = states.result_writer_request(state, data, env, ql)
                    # the child executions' inputs and outcomes too: the writer files them by status
                    written = self.invoker(resource, {"Results": results, "Executions": self._map_run_records,
                                                      **(params or {})}, state, env)
                    if written is not None:
                        results = written
                try:
                    return self._guard(env, states.map_output, state, data, results, env, ql)
                except errors.AslError as exc:
                    raise self._located(exc, name) from None
            except (errors.AslError, BranchFailed) as failure:
                outcome = self._recover(state, data, env, ql, failure, counters, "MapStateFailed")
                if outcome is not None:
                    return outcome

    def _iteration_inputs(self, state: dict[str, Any], data: Any, items: list[Any], env: states.StateEnv,
                          ql: str) -> list[Any]:
        try:
            return self._guard(env, iteration_inputs, state, data, items, env, ql)
        except errors.AslError as exc:
            raise self._located(exc, env.state_name) from None

    def _inline_iterations(self, state: dict[str, Any], data: Any, items: list[Any], env: states.StateEnv,
                           ql: str) -> list[Any]:
        machine = states.processor(state)
        inputs = self._iteration_inputs(state, data, items, env, ql)
        limit = states.map_max_concurrency(state, data, env, ql)  # evaluated before: it cannot fail here
        limit = race.INLINE_MAP_CONCURRENCY if limit <= 0 else min(limit, race.INLINE_MAP_CONCURRENCY)
        jobs = [_bind(self._iteration, machine, item_input, env, ql, index) for index, item_input in enumerate(inputs)]
        return race.race(jobs, [self.can_wait(machine, i) for i in range(len(inputs))], self.wait, limit)

    def _iteration(self, machine: dict[str, Any], item_input: Any, env: states.StateEnv, ql: str, index: int) -> Any:
        """One inline iteration with its ``MapIteration*`` events (``Aborted`` when a failing sibling stops it)."""
        details = {"name": env.state_name, "index": index}
        self.history.add("MapIterationStarted", "mapIterationStartedEventDetails", details)
        try:
            result = self.iteration(machine, item_input, env, ql, index)
        except BranchFailed:
            self.history.add("MapIterationFailed", "mapIterationFailedEventDetails", details)
            raise
        except race.BranchStopped as stopped:
            if not stopped.quiet:
                self.history.add("MapIterationAborted", "mapIterationAbortedEventDetails", details)
            raise
        self.history.add("MapIterationSucceeded", "mapIterationSucceededEventDetails", details)
        return result

    def _map_run(self, state: dict[str, Any], data: Any, items: list[Any] | None,
                 tolerance: tuple[int | None, float | None], env: states.StateEnv, ql: str) -> list[Any]:
        """A Distributed Map: each item runs as a child execution, outside this history."""
        self.history.add("MapRunStarted", "mapRunStartedEventDetails", {})
        try:
            if items is None:
                items = read_items(state, data, env, ql, self.invoker)
            inputs = self._iteration_inputs(state, data, items, env, ql)
        except errors.AslError:
            self.history.add("MapRunFailed", None)
            raise
        machine = states.processor(state)
        results: list[Any] = []
        failed = 0
        last_error: errors.AslError | None = None
        records: list[dict[str, Any]] = []  # per child execution, for a ResultWriter
        for index, item_input in enumerate(inputs):
            try:
                results.append(self.child_iteration(machine, item_input, env, ql, index))
                records.append({"input": item_input, "status": "SUCCEEDED", "output": results[-1]})
            except errors.AslError as exc:
                failed += 1
                last_error = exc
                results.append({"Error": exc.error, "Cause": exc.cause})
                records.append({"input": item_input, "status": "FAILED", "error": exc.error, "cause": exc.cause})
        self._map_run_records = records
        if states.tolerance_exceeded(tolerance, failed, len(inputs)):
            self.history.add("MapRunFailed", None)
            cause = "The specified tolerated failure threshold was exceeded"
            if last_error is not None and tolerance == (None, None):
                cause = f"{cause}: {last_error.error}"
            raise BranchFailed(errors.AslError(errors.EXCEED_TOLERATED_FAILURE_THRESHOLD, cause))
        self.history.add("MapRunSucceeded", None)
        return results


def _too_large(name: str) -> errors.AslError:
    return errors.AslError(
        errors.DATA_LIMIT_EXCEEDED,
        f"The state/task '{name}' returned a result with a size exceeding the maximum number of bytes service limit.",
    )


def check_execution_input(input_: Any) -> None:
    """What StartExecution checks before an execution exists: JSON (finite numbers, nesting at most
    :data:`~asl_airflow.asl.strictjson.MAX_DEPTH`) of at most 262,144 bytes as UTF-8 text."""
    try:
        strictjson.check(input_)
        if strictjson.size_exceeds(input_, errors.PAYLOAD_LIMIT_BYTES):
            size = None
        else:
            size = len(strictjson.dumps(input_).encode("utf-8"))
    except strictjson.JsonError as exc:
        raise errors.InvalidExecutionInput("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'") \
            from None
    if size is None or size > errors.PAYLOAD_LIMIT_BYTES:
        raise errors.InvalidExecutionInput(
            "ValidationException",
            "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length "
            f"less than or equal to {errors.PAYLOAD_LIMIT_BYTES}",
        )


def _bind(function: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """``function(*args)`` as a job for :func:`~asl_airflow.asl.race.race`."""
    return lambda: function(*args)


def read_items(state: dict[str, Any], data: Any, env: states.StateEnv, ql: str, invoker: Invoker) -> list[Any]:
    """A Distributed Map's items from its ItemReader (through the service invoker), up to MaxItems."""
    resource, params = states.item_reader_request(state, data, env, ql)
    items = list(invoker(resource, params, state, env) or [])
    limit = states.reader_max_items(state, data, env, ql)
    return items if limit is None else items[:limit]


def iteration_inputs(state: dict[str, Any], data: Any, items: list[Any], env: states.StateEnv,
                     ql: str) -> list[Any]:
    """What each iteration receives: ItemSelector per item, then ItemBatcher's batches."""
    memo: dict[str, Any] = {}  # the selector's item-independent values, computed once for all the items
    inputs = [states.map_item_input(state, data, item, index, env, ql, memo) for index, item in enumerate(items)]
    return states.map_batches(state, data, inputs, env, ql)


def _merge_parallel_events(events: list[dict[str, Any]], start: int) -> None:
    """Order branch events as AWS records them: when the branches hold only Pass states, all the
    ``PassStateEntered`` events come before the ``PassStateExited`` ones (they run concurrently)."""
    segment = events[start:]
    if not segment or any(e["type"] not in ("PassStateEntered", "PassStateExited") for e in segment):
        return
    ordered = [e for e in segment if e["type"] == "PassStateEntered"] + \
        [e for e in segment if e["type"] == "PassStateExited"]
    for offset, event in enumerate(ordered):
        event["id"] = start + offset + 1
        event["previousEventId"] = start + offset
    events[start:] = ordered


def locate(exc: errors.AslError, name: str, entered_id: int) -> errors.AslError:
    """``exc`` with AWS's location in front of its cause, when it is a state's own error that AWS
    locates (``States.Runtime``, ``States.QueryEvaluationError``; not a Fail state's) and is not
    located yet: ``An error occurred while executing the state 'X' (entered at the event id #N).``
    Both engines write it through here, so that Catch and ExecutionFailed see the same text."""
    if exc.error in _LOCATED and not getattr(exc, "located", False) and not isinstance(exc, errors.ExecutionFailed):
        exc.cause = (f"An error occurred while executing the state '{name}' (entered at the event id "
                     f"#{entered_id}). {exc.cause or ''}").rstrip()
        exc.located = True  # type: ignore[attr-defined]
    return exc


def _last_entered(events: list[dict[str, Any]], name: str) -> int:
    for event in reversed(events):
        details = event.get("stateEnteredEventDetails")
        if details is not None and details.get("name") == name:
            return int(event["id"])
    return 0


def _error_details(exc: errors.AslError) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if exc.error is not None:
        details["error"] = exc.error
    if exc.cause is not None:
        details["cause"] = exc.cause
    return details
