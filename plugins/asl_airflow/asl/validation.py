"""Static validation: reject what Step Functions rejects at CreateStateMachine.

Each problem is one line ``<file>:<JSON pointer>: <message>`` that says what to change, so a user
can fix a definition without reading this code. Validation never raises for a malformed document;
it reports.
"""

from __future__ import annotations

from typing import Any

from asl_airflow.asl import errors

STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")

_COMMON = {"Type", "Comment", "QueryLanguage"}
_JSONPATH_IO = {"InputPath", "OutputPath"}
_JSONATA_IO = {"Output", "Assign"}
_FIELDS: dict[str, set[str]] = {
    "Task": _COMMON | {"Next", "End", "Resource", "Parameters", "Arguments", "ResultSelector", "ResultPath",
                       "Retry", "Catch", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds",
                       "HeartbeatSecondsPath", "Credentials", "Assign", "Output"} | _JSONPATH_IO,
    "Pass": _COMMON | {"Next", "End", "Result", "ResultPath", "Parameters", "Assign", "Output"} | _JSONPATH_IO,
    "Choice": _COMMON | {"Choices", "Default", "Assign", "Output"} | _JSONPATH_IO,
    "Wait": _COMMON | {"Next", "End", "Seconds", "SecondsPath", "Timestamp", "TimestampPath", "Assign",
                       "Output"} | _JSONPATH_IO,
    "Succeed": _COMMON | {"Output"} | _JSONPATH_IO,
    "Fail": _COMMON | {"Error", "Cause", "ErrorPath", "CausePath"},
    "Parallel": _COMMON | {"Next", "End", "Branches", "Parameters", "Arguments", "ResultSelector",
                           "ResultPath", "Retry", "Catch", "Assign", "Output"} | _JSONPATH_IO,
    "Map": _COMMON | {"Next", "End", "Iterator", "ItemProcessor", "ItemsPath", "Items", "ItemSelector",
                      "Parameters", "ItemReader", "ItemBatcher", "ResultWriter", "MaxConcurrency",
                      "MaxConcurrencyPath", "ToleratedFailurePercentage", "ToleratedFailurePercentagePath",
                      "ToleratedFailureCount", "ToleratedFailureCountPath", "Label", "ResultSelector",
                      "ResultPath", "Retry", "Catch", "Assign", "Output", "Arguments"} | _JSONPATH_IO,
}
_RETRIER_FIELDS = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds",
                   "JitterStrategy", "Comment"}
_CATCHER_FIELDS = {"ErrorEquals", "Next", "ResultPath", "Comment", "Assign", "Output"}


def _ptr(*parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts) or "/"


class _Validator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def report(self, pointer: str, message: str) -> None:
        self.problems.append(f"{self.source}:{pointer}: {message}")

    def machine(self, doc: Any, base: tuple[Any, ...]) -> None:
        if not isinstance(doc, dict):
            self.report(_ptr(*base), "a state machine must be a JSON object with StartAt and States")
            return
        states = doc.get("States")
        if not isinstance(states, dict) or not states:
            self.report(_ptr(*base, "States"), "States must be a non-empty object of named states")
            states = {}
        start = doc.get("StartAt")
        if not isinstance(start, str):
            self.report(_ptr(*base, "StartAt"), "StartAt is required and must name a state")
        elif states and start not in states:
            self.report(_ptr(*base, "StartAt"), f"StartAt names {start!r}, which is not in States")
        for name, state in states.items():
            self.state(name, state, states, (*base, "States", name))
        if isinstance(start, str) and start in states:
            reachable = _reachable(start, states)
            for name in states:
                if name not in reachable:
                    self.report(
                        _ptr(*base, "States", name),
                        f"state {name!r} is unreachable from StartAt; remove it or add a transition to it",
                    )

    def state(self, name: str, state: Any, states: dict[str, Any], base: tuple[Any, ...]) -> None:
        if len(name) > 80:
            self.report(_ptr(*base), "state names are at most 80 characters")
        if not isinstance(state, dict):
            self.report(_ptr(*base), "a state must be a JSON object")
            return
        type_ = state.get("Type")
        if type_ not in STATE_TYPES:
            self.report(_ptr(*base, "Type"), f"Type must be one of {', '.join(STATE_TYPES)}, got {type_!r}")
            return
        for key in state:
            if key not in _FIELDS[type_]:
                self.report(_ptr(*base, key), f"field {key!r} is not valid in a {type_} state")
        if type_ not in ("Choice", "Succeed", "Fail"):
            has_next, has_end = "Next" in state, state.get("End") is True
            if has_next == has_end:
                self.report(_ptr(*base), "a state needs exactly one of Next or \"End\": true")
        if "Next" in state and state["Next"] not in states:
            self.report(_ptr(*base, "Next"), f"Next names {state['Next']!r}, which is not in States")
        if type_ == "Task" and not isinstance(state.get("Resource"), str):
            self.report(_ptr(*base, "Resource"), "a Task state needs a Resource ARN")
        if type_ == "Choice":
            choices = state.get("Choices")
            if not isinstance(choices, list) or not choices:
                self.report(_ptr(*base, "Choices"), "a Choice state needs a non-empty Choices array")
            else:
                for i, rule in enumerate(choices):
                    nxt = rule.get("Next") if isinstance(rule, dict) else None
                    if nxt not in states:
                        self.report(_ptr(*base, "Choices", i, "Next"), f"Next names {nxt!r}, which is not in States")
            if "Default" in state and state["Default"] not in states:
                self.report(_ptr(*base, "Default"), f"Default names {state['Default']!r}, which is not in States")
        if type_ == "Parallel":
            branches = state.get("Branches")
            if not isinstance(branches, list) or not branches:
                self.report(_ptr(*base, "Branches"), "a Parallel state needs a non-empty Branches array")
            else:
                for i, branch in enumerate(branches):
                    self.machine(branch, (*base, "Branches", i))
        if type_ == "Map":
            key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
            if key not in state:
                self.report(_ptr(*base), "a Map state needs an ItemProcessor")
            else:
                self.machine(state[key], (*base, key))
        self.retriers(state.get("Retry"), base, type_)
        self.catchers(state.get("Catch"), states, base, type_)

    def retriers(self, retriers: Any, base: tuple[Any, ...], type_: str) -> None:
        if retriers is None:
            return
        if not isinstance(retriers, list):
            self.report(_ptr(*base, "Retry"), "Retry must be an array of retriers")
            return
        for i, retrier in enumerate(retriers):
            here = (*base, "Retry", i)
            if not isinstance(retrier, dict):
                self.report(_ptr(*here), "a retrier must be an object")
                continue
            for key in retrier:
                if key not in _RETRIER_FIELDS:
                    self.report(_ptr(*here, key), f"field {key!r} is not valid in a retrier")
            self.error_equals(retrier.get("ErrorEquals"), here, i == len(retriers) - 1)
            rate = retrier.get("BackoffRate", 2.0)
            if not isinstance(rate, int | float) or isinstance(rate, bool) or rate < 1:
                self.report(_ptr(*here, "BackoffRate"), "BackoffRate must be a number >= 1.0")
            for key, low in (("IntervalSeconds", 1), ("MaxAttempts", 0), ("MaxDelaySeconds", 1)):
                if key in retrier:
                    value = retrier[key]
                    if not isinstance(value, int) or isinstance(value, bool) or value < low:
                        self.report(_ptr(*here, key), f"{key} must be an integer >= {low}")
            if retrier.get("JitterStrategy", "NONE") not in ("NONE", "FULL"):
                self.report(_ptr(*here, "JitterStrategy"), "JitterStrategy must be FULL or NONE")

    def catchers(self, catchers: Any, states: dict[str, Any], base: tuple[Any, ...], type_: str) -> None:
        if catchers is None:
            return
        if not isinstance(catchers, list):
            self.report(_ptr(*base, "Catch"), "Catch must be an array of catchers")
            return
        for i, catcher in enumerate(catchers):
            here = (*base, "Catch", i)
            if not isinstance(catcher, dict):
                self.report(_ptr(*here), "a catcher must be an object")
                continue
            for key in catcher:
                if key not in _CATCHER_FIELDS:
                    self.report(_ptr(*here, key), f"field {key!r} is not valid in a catcher")
            self.error_equals(catcher.get("ErrorEquals"), here, i == len(catchers) - 1)
            if catcher.get("Next") not in states:
                self.report(_ptr(*here, "Next"), f"Next names {catcher.get('Next')!r}, which is not in States")

    def error_equals(self, names: Any, here: tuple[Any, ...], last: bool) -> None:
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.report(_ptr(*here, "ErrorEquals"), "ErrorEquals must be a non-empty array of error names")
            return
        if errors.ALL in names and (len(names) > 1 or not last):
            self.report(
                _ptr(*here, "ErrorEquals"),
                "States.ALL must appear alone in ErrorEquals and in the last retrier or catcher",
            )


def _successors(state: dict[str, Any]) -> list[str]:
    out = []
    if isinstance(state.get("Next"), str):
        out.append(state["Next"])
    if isinstance(state.get("Default"), str):
        out.append(state["Default"])
    for rule in state.get("Choices", []) if isinstance(state.get("Choices"), list) else []:
        if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
            out.append(rule["Next"])
    for catcher in state.get("Catch", []) if isinstance(state.get("Catch"), list) else []:
        if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
            out.append(catcher["Next"])
    return out


def _reachable(start: str, states: dict[str, Any]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        state = states.get(stack.pop())
        if not isinstance(state, dict):
            continue
        for nxt in _successors(state):
            if nxt in states and nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def validate(document: Any, source: str = "<definition>") -> list[str]:
    """Every problem in ``document`` as ``<file>:<JSON pointer>: <message>``; empty when valid."""
    validator = _Validator(source)
    validator.machine(document, ())
    if isinstance(document, dict):
        for key in document:
            if key not in {"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"}:
                validator.report(_ptr(key), f"field {key!r} is not valid at the top of a state machine")
    return validator.problems
