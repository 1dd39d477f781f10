"""Redrive: continue a failed execution from its unsuccessful states, as ``RedriveExecution`` does.

AWS keeps the execution's history and the results of the states that succeeded, and re-runs only
what did not finish: a state with a ``...StateEntered`` but no ``...StateExited`` event, and inside
a Parallel or an inline Map only the branches and iterations that failed or were aborted. The
redriven history is the old one, then ``ExecutionRedriven`` (``redriveCount``), then the new events;
``$$.Execution.RedriveCount`` counts the redrives.

How: the execution runs again from its start with a :class:`Replay` attached to the interpreter.
Each state occurrence (the n-th time a state name is entered) that exited in the previous run is
*replayed* silently: its outcome (output, next state, variables) is rebuilt with the language's own
functions from what the history recorded (a Task from its recorded result or error, a Choice by
evaluating its rules again; nothing is called, nothing waits, no event is written). The first
occurrence that did not exit runs for real, and everything after it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from asl_airflow.asl import errors, retry, states
from asl_airflow.asl.history import loads_detail

_TERMINAL_FAILURES = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
_ERROR_DETAILS = ("taskFailedEventDetails", "taskTimedOutEventDetails", "lambdaFunctionFailedEventDetails",
                  "lambdaFunctionTimedOutEventDetails", "activityFailedEventDetails", "activityTimedOutEventDetails")


class NotRedrivable(errors.AslError):
    """The previous execution cannot be redriven (AWS's ``ExecutionNotRedrivable``)."""

    def __init__(self, message: str) -> None:
        super().__init__("ExecutionNotRedrivable", message)


class _Occurrence:
    """One recorded run of a state: its input, output, last service result or error, if it exited."""

    def __init__(self, data: Any) -> None:
        self.input = data
        self.exited = False
        self.output: Any = None
        self.result: Any = None
        self.error: tuple[str, str | None] | None = None


class Replay:
    """The previous execution's completed state occurrences, handed out in execution order."""

    def __init__(self, previous: dict[str, Any]) -> None:
        status = previous.get("status")
        history = previous.get("history")
        if status not in _TERMINAL_FAILURES:
            raise NotRedrivable(f"Execution status is {status!r}: only FAILED, TIMED_OUT or ABORTED executions "
                                "can be redriven")
        if not isinstance(history, list) or not history or history[0].get("type") != "ExecutionStarted":
            raise NotRedrivable("The previous result has no history: run it with --history to redrive it later")
        if len(history) >= errors.HISTORY_LIMIT_EVENTS - 1:
            raise NotRedrivable("The execution's history is at the 25,000-event quota: it cannot be redriven")
        self.history = history
        self.redrive_count = sum(1 for e in history if e.get("type") == "ExecutionRedriven") + 1
        self.input = loads_detail(history[0].get("executionStartedEventDetails", {}).get("input", "{}"))
        self.records: dict[str, list[_Occurrence]] = defaultdict(list)
        self._seen: dict[str, int] = defaultdict(int)
        self._collect()

    def _collect(self) -> None:
        """Occurrences by state name; a nested state's events are attributed by name (state names are
        unique in a machine), so interleaved branches do not matter."""
        running: dict[str, _Occurrence] = {}
        last_entered: list[str] = []
        for event in self.history:
            entered = event.get("stateEnteredEventDetails")
            exited = event.get("stateExitedEventDetails")
            if entered is not None:
                occurrence = _Occurrence(loads_detail(entered.get("input")))
                self.records[entered["name"]].append(occurrence)
                running[entered["name"]] = occurrence
                last_entered.append(entered["name"])
            elif exited is not None and exited.get("name") in running:
                occurrence = running.pop(exited["name"])
                occurrence.exited = True
                occurrence.output = loads_detail(exited.get("output"))
            else:
                target = _owner(event, running, last_entered)
                if target is None:
                    continue
                for key in ("taskSucceededEventDetails", "lambdaFunctionSucceededEventDetails",
                            "activitySucceededEventDetails"):
                    if key in event:
                        target.result, target.error = loads_detail(event[key].get("output")), None
                for key in _ERROR_DETAILS:
                    if key in event:
                        target.error = (event[key].get("error") or "", event[key].get("cause"))
                if event.get("type") in ("ParallelStateFailed", "MapStateFailed"):
                    target.error = target.error or ("States.BranchFailed", None)

    def replayed(self, name: str, state: dict[str, Any], data: Any, env: states.StateEnv,
                 ql: str) -> states.Outcome | None:
        """The outcome of this occurrence of ``name`` when it completed before, else None (run it)."""
        index = self._seen[name]
        self._seen[name] += 1
        recorded = self.records.get(name, [])
        if index >= len(recorded) or not recorded[index].exited:
            return None
        occurrence = recorded[index]
        type_ = state["Type"]
        if type_ == "Choice":
            return states.run_choice(state, data, env, ql)
        if type_ == "Pass":
            return states.run_pass(state, data, env, ql)
        if type_ == "Succeed":
            return states.run_succeed(state, data, env, ql)
        if type_ == "Wait":
            return states.wait_outcome(state, data, env, ql)
        if occurrence.error is not None and (type_ != "Task" or occurrence.result is None):
            catcher = retry.find_catcher(state.get("Catch", []), occurrence.error[0])
            if catcher is not None:
                error = errors.AslError(*occurrence.error)
                return states.catch_outcome(catcher, data, error, env, ql)
        if type_ == "Task" and occurrence.result is not None:
            return states.task_output(state, data, occurrence.result, env, ql)
        return states.Outcome(occurrence.output, states.next_of(state), env.variables)


def _owner(event: dict[str, Any], running: dict[str, _Occurrence], order: list[str]) -> _Occurrence | None:
    """The running state an event belongs to: the latest entered one still running."""
    for name in reversed(order):
        if name in running:
            return running[name]
    return None


__all__ = ["NotRedrivable", "Replay"]
