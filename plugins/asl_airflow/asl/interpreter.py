"""The reference interpreter: runs a state machine in-process, as Step Functions would.

It is the semantic oracle for the Airflow engine and the ``--engine local`` runner. Service calls
(Task resources, a Map's ItemReader and ResultWriter) go through an ``invoker`` callable supplied by
the caller (the integrations layer), so this module never imports boto3 or Airflow; a machine
without Task states needs neither. Waits and retry delays go through ``sleep`` (inject a no-op in
tests; raise :class:`~asl_airflow.asl.errors.ExecutionAborted` from it to stop an execution).

Map iterations and Parallel branches run one after the other so that the history is deterministic;
the events are those AWS writes (``MapStateStarted``, ``MapIterationStarted``, ...).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asl_airflow.asl import errors, retry, states
from asl_airflow.asl.context import ExecutionInfo, iso_now
from asl_airflow.asl.history import History, details_key, dumps, resource_details, task_event_family

#: ``invoker(resource, parameters, state, env) -> result``; raises AslError on failure
Invoker = Callable[[str, Any, dict[str, Any], states.StateEnv], Any]

#: errors AWS reports with "An error occurred while executing the state ..." in front of the cause
_LOCATED = frozenset({errors.RUNTIME, errors.QUERY_EVALUATION_ERROR})


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
    """Runs one execution of a definition (a validated ASL document as a dict)."""

    def __init__(
        self,
        document: dict[str, Any],
        invoker: Invoker | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.document = document
        self.invoker = invoker or _no_service
        self.sleep = sleep
        self.history = History()

    # -- public ---------------------------------------------------------------------------------

    def execute(self, input_: Any = None, execution: ExecutionInfo | None = None) -> ExecutionResult:
        input_ = {} if input_ is None else input_
        execution = execution or ExecutionInfo(input=input_)
        self.history.add(
            "ExecutionStarted",
            "executionStartedEventDetails",
            {"input": dumps(input_), "roleArn": execution.role_arn},
        )
        try:
            output = self.run_states(self.document, input_, execution, {})
        except errors.ExecutionAborted:
            self.history.add("ExecutionAborted", None)
            return ExecutionResult("ABORTED", None, None, None, self.history.events)
        except errors.AslError as exc:
            self.history.add("ExecutionFailed", "executionFailedEventDetails", _error_details(exc))
            return ExecutionResult("FAILED", None, exc.error, exc.cause, self.history.events)
        self.history.add("ExecutionSucceeded", "executionSucceededEventDetails", {"output": dumps(output)})
        return ExecutionResult("SUCCEEDED", output, None, None, self.history.events)

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
        self.history.state_entered(type_, name, data)
        entered_id = len(self.history.events)
        handler = getattr(self, f"_run_{type_.lower()}", None)
        if handler is None:
            raise errors.AslError(errors.RUNTIME, f"Unsupported state type {type_!r}")
        try:
            outcome = handler(state, data, env, ql)
            if type_ != "Fail":
                self.history.state_exited(type_, name, outcome.output)
                if len(self.history.events[-1]["stateExitedEventDetails"]["output"]) > errors.PAYLOAD_LIMIT_BYTES // 4:
                    states.check_size(outcome.output, name)
        except errors.AslError as exc:
            if exc.error in _LOCATED and not getattr(exc, "located", False) and \
                    not isinstance(exc, errors.ExecutionFailed):
                exc.cause = (f"An error occurred while executing the state '{name}' (entered at the event id "
                             f"#{entered_id}). {exc.cause or ''}").rstrip()
                exc.located = True  # type: ignore[attr-defined]
                exc.args = (f"{exc.error}: {exc.cause}",)
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
                self.sleep(step.delay or 0)
                return None
            self.history.add(failed_event, None)
        return self._catch(state, data, env, ql, exc)

    def _located(self, exc: errors.AslError, name: str) -> errors.AslError:
        """The state's own evaluation error with AWS's location prefix (so that Catch sees it too)."""
        if exc.error in _LOCATED and not getattr(exc, "located", False):
            entered = _last_entered(self.history.events, name)
            exc.cause = (f"An error occurred while executing the state '{name}' (entered at the event id "
                         f"#{entered}). {exc.cause or ''}").rstrip()
            exc.located = True  # type: ignore[attr-defined]
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
        self.sleep(states.wait_seconds(target))
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
                self._task_scheduled(family, resource, parameters, state)
                self.history.add(f"{family}Started", None)
                result = self.invoker(resource, parameters, state, env)
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
                if not getattr(exc, "located", False):
                    self.history.add(
                        f"{family}Failed", details_key(family, "Failed"),
                        {**_error_details(exc), **resource_details(family, resource)},
                    )
                step = retry.next_retry(state.get("Retry", []), exc.error, counters)
                if step.retry:
                    self.sleep(step.delay or 0)
                    env.retry_count += 1
                    continue
                return self._catch(state, data, env, ql, exc)

    def _task_scheduled(self, family: str, resource: str, parameters: Any, state: dict[str, Any]) -> None:
        details: dict[str, Any] = {"parameters": dumps(parameters)}
        if family == "LambdaFunction":
            details = {"resource": resource, "input": dumps(parameters)}
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
                outputs = []
                for index, branch in enumerate(state["Branches"]):
                    outputs.append(self.branch(branch, branch_input, env, ql, index))
                _merge_parallel_events(self.history.events, start)
                try:
                    return self._guard(env, states.parallel_output, state, data, outputs, env, ql)
                except errors.AslError as exc:
                    raise self._located(exc, env.state_name) from None
            except (errors.AslError, BranchFailed) as failure:
                outcome = self._recover(state, data, env, ql, failure, counters, "ParallelStateFailed")
                if outcome is not None:
                    return outcome

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
        child = Interpreter(self.document, self.invoker, self.sleep)
        return child.run_states(machine, input_, env.execution, {}, language=ql)

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
                    written = self.invoker(resource, {"Results": results, **(params or {})}, state, env)
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
        results = []
        for index, item_input in enumerate(inputs):
            details = {"name": env.state_name, "index": index}
            self.history.add("MapIterationStarted", "mapIterationStartedEventDetails", details)
            try:
                results.append(self.iteration(machine, item_input, env, ql, index))
            except BranchFailed:
                self.history.add("MapIterationFailed", "mapIterationFailedEventDetails", details)
                raise
            self.history.add("MapIterationSucceeded", "mapIterationSucceededEventDetails", details)
        return results

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
        for index, item_input in enumerate(inputs):
            try:
                results.append(self.child_iteration(machine, item_input, env, ql, index))
            except errors.AslError as exc:
                failed += 1
                last_error = exc
                results.append({"Error": exc.error, "Cause": exc.cause})
        if states.tolerance_exceeded(tolerance, failed, len(inputs)):
            self.history.add("MapRunFailed", None)
            cause = "The specified tolerated failure threshold was exceeded"
            if last_error is not None and tolerance == (None, None):
                cause = f"{cause}: {last_error.error}"
            raise BranchFailed(errors.AslError(errors.EXCEED_TOLERATED_FAILURE_THRESHOLD, cause))
        self.history.add("MapRunSucceeded", None)
        return results


def read_items(state: dict[str, Any], data: Any, env: states.StateEnv, ql: str, invoker: Invoker) -> list[Any]:
    """A Distributed Map's items from its ItemReader (through the service invoker), up to MaxItems."""
    resource, params = states.item_reader_request(state, data, env, ql)
    items = list(invoker(resource, params, state, env) or [])
    limit = states.reader_max_items(state, data, env, ql)
    return items if limit is None else items[:limit]


def iteration_inputs(state: dict[str, Any], data: Any, items: list[Any], env: states.StateEnv,
                     ql: str) -> list[Any]:
    """What each iteration receives: ItemSelector per item, then ItemBatcher's batches."""
    inputs = [states.map_item_input(state, data, item, index, env, ql) for index, item in enumerate(items)]
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
