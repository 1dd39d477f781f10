"""The reference interpreter: runs a state machine in-process, as Step Functions would.

It is the semantic oracle for the Airflow engine and the ``--engine local`` runner. Service calls
go through an ``invoker`` callable supplied by the caller (the integrations layer), so this module
never imports boto3 or Airflow; a machine without Task states needs neither.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asl_airflow.asl import errors, retry, states
from asl_airflow.asl.context import ExecutionInfo
from asl_airflow.asl.history import History, dumps, task_event_family

#: ``invoker(resource, parameters, state, env) -> result``; raises AslError on failure
Invoker = Callable[[str, Any, dict[str, Any], states.StateEnv], Any]


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
        except errors.AslError as exc:
            self.history.add(
                "ExecutionFailed", "executionFailedEventDetails", _error_details(exc)
            )
            return ExecutionResult("FAILED", None, exc.error, exc.cause, self.history.events)
        self.history.add(
            "ExecutionSucceeded", "executionSucceededEventDetails", {"output": dumps(output)}
        )
        return ExecutionResult("SUCCEEDED", output, None, None, self.history.events)

    def run_states(
        self,
        machine: dict[str, Any],
        input_: Any,
        execution: ExecutionInfo,
        variables: dict[str, Any],
        map_item: dict[str, Any] | None = None,
    ) -> Any:
        """Run a (sub-)machine from StartAt to its end; returns its output or raises AslError."""
        language = machine.get("QueryLanguage", self.document.get("QueryLanguage", states.JSONPATH))
        name: str | None = machine["StartAt"]
        data = input_
        while name is not None:
            state = machine["States"][name]
            env = states.StateEnv(execution, name, variables, map_item=map_item)
            ql = states.query_language(state, language)
            outcome = self.run_state(name, state, data, env, ql)
            data, name, variables = outcome.output, outcome.next, outcome.variables
        return data

    def run_state(
        self, name: str, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str
    ) -> states.Outcome:
        type_ = state["Type"]
        self.history.state_entered(type_, name, data)
        handler = getattr(self, f"_run_{type_.lower()}", None)
        if handler is None:
            raise errors.AslError(errors.RUNTIME, f"Unsupported state type {type_!r}")
        try:
            outcome = handler(state, data, env, ql)
        except errors.ExecutionFailed:
            raise
        except errors.AslError as exc:
            outcome = self._handle_error(state, data, env, ql, exc, type_, retry_allowed=False)
        if type_ != "Fail":
            self.history.state_exited(type_, name, outcome.output)
        return outcome

    # -- error handling ---------------------------------------------------------------------------

    def _handle_error(
        self, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str, exc: errors.AslError,
        type_: str, retry_allowed: bool,
    ) -> states.Outcome:
        catcher = retry.find_catcher(state.get("Catch", []), exc.error) if type_ in _CATCHING else None
        if catcher is None:
            raise exc
        return states.catch_outcome(catcher, data, exc, env, ql)

    # -- state types ----------------------------------------------------------------------------

    def _run_pass(self, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str) -> states.Outcome:
        return states.run_pass(state, data, env, ql)

    def _run_succeed(self, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str) -> states.Outcome:
        return states.run_succeed(state, data, env, ql)

    def _run_fail(self, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str) -> states.Outcome:
        raise states.fail_error(state, data, env, ql)

    def _run_task(self, state: dict[str, Any], data: Any, env: states.StateEnv, ql: str) -> states.Outcome:
        resource = state["Resource"]
        family = task_event_family(resource)
        counters: list[int] = []
        while True:
            try:
                parameters = states.task_parameters(state, data, env, ql)
                self._task_scheduled(family, resource, parameters, state)
                self.history.add(f"{family}Started", None)
                result = self.invoker(resource, parameters, state, env)
                self.history.add(
                    f"{family}Succeeded",
                    _details_key(family, "Succeeded"),
                    {"output": dumps(result), **_resource_details(family, resource)},
                )
                return states.task_output(state, data, result, env, ql)
            except errors.AslError as exc:
                self.history.add(
                    f"{family}Failed", _details_key(family, "Failed"),
                    {**_error_details(exc), **_resource_details(family, resource)},
                )
                step = retry.next_retry(state.get("Retry", []), exc.error, counters)
                if not step.retry:
                    raise
                self.sleep(step.delay or 0)
                env.retry_count += 1

    def _task_scheduled(self, family: str, resource: str, parameters: Any, state: dict[str, Any]) -> None:
        details: dict[str, Any] = {"parameters": dumps(parameters)}
        if family == "LambdaFunction":
            details = {"resource": resource, "input": dumps(parameters)}
        else:
            details.update(_resource_details(family, resource))
        self.history.add(f"{family}Scheduled", _details_key(family, "Scheduled"), details)


_CATCHING = frozenset({"Task", "Parallel", "Map"})


def _details_key(family: str, what: str) -> str:
    return f"{family[0].lower()}{family[1:]}{what}EventDetails"


def _resource_details(family: str, resource: str) -> dict[str, Any]:
    if family != "Task":
        return {}
    # arn:aws:states:::service:action(.sync) -> resourceType=service, resource=action(.sync)
    tail = resource.split(":::", 1)[-1]
    service, _, action = tail.partition(":")
    return {"resourceType": service, "resource": action}


def _error_details(exc: errors.AslError) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if exc.error is not None:
        details["error"] = exc.error
    if exc.cause is not None:
        details["cause"] = exc.cause
    return details
