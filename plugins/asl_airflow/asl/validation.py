"""Static validation: reject what Step Functions rejects at CreateStateMachine.

Each problem is one line ``<file>:<JSON pointer>: <message>`` that says what to change, so a user
can fix a definition without reading this code. Validation never raises for a malformed document;
it reports. The checks follow the ASL specification and the AWS documentation: fields per state
type and per query language, transitions, reachability, Retry/Catch, paths and intrinsic functions
(JSONPath), ``{% %}`` expressions (JSONata), Wait, Map and Parallel settings.

Every check looks at a value's type before using it, so a definition with any JSON value in any
field gets every problem reported, never an exception. The document's shape is checked first
(:func:`check_structure`): AWS's 1 MB definition quota, and a nesting limit of our own
(``MAX_NESTING``; AWS documents none), so no recursive step after it (validation, substitution,
compilation, the interpreter) can exhaust Python's stack.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from asl_airflow.asl import choice, errors, intrinsics, jsonata_eval, paths

STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
JSONPATH, JSONATA = "JSONPath", "JSONata"

_TOP = {"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"}
_COMMON = {"Type", "Comment", "QueryLanguage"}
_FLOW = {"Next", "End"}
_ERRORS = {"Retry", "Catch"}
_FIELDS: dict[str, set[str]] = {
    "Task": _COMMON | _FLOW | _ERRORS | {
        "Resource", "Parameters", "Arguments", "ResultSelector", "ResultPath", "InputPath", "OutputPath",
        "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials",
        "Assign", "Output"},
    "Pass": _COMMON | _FLOW | {"Result", "ResultPath", "Parameters", "InputPath", "OutputPath", "Assign", "Output"},
    "Choice": _COMMON | {"Choices", "Default", "InputPath", "OutputPath", "Assign", "Output"},
    "Wait": _COMMON | _FLOW | {"Seconds", "SecondsPath", "Timestamp", "TimestampPath", "InputPath", "OutputPath",
                               "Assign", "Output"},
    "Succeed": _COMMON | {"InputPath", "OutputPath", "Output"},
    "Fail": _COMMON | {"Error", "Cause", "ErrorPath", "CausePath"},
    "Parallel": _COMMON | _FLOW | _ERRORS | {"Branches", "Parameters", "Arguments", "ResultSelector", "ResultPath",
                                             "InputPath", "OutputPath", "Assign", "Output"},
    "Map": _COMMON | _FLOW | _ERRORS | {
        "Iterator", "ItemProcessor", "ItemsPath", "Items", "ItemSelector", "Parameters", "ItemReader",
        "ItemBatcher", "ResultWriter", "MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath", "ToleratedFailureCount", "ToleratedFailureCountPath", "Label",
        "ResultSelector", "ResultPath", "InputPath", "OutputPath", "Assign", "Output", "Arguments"},
}
#: fields that exist only in JSONPath states, and only in JSONata states
_JSONPATH_ONLY = {"InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "ItemsPath",
                  "SecondsPath", "TimestampPath", "ErrorPath", "CausePath", "MaxConcurrencyPath",
                  "ToleratedFailurePercentagePath", "ToleratedFailureCountPath", "TimeoutSecondsPath",
                  "HeartbeatSecondsPath", "Iterator"}
_JSONATA_ONLY = {"Arguments", "Output", "Items"}
_RETRIER_FIELDS = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds",
                   "JitterStrategy", "Comment"}
_CATCHER_FIELDS = {"ErrorEquals", "Next", "ResultPath", "Comment", "Assign", "Output"}
_RULE_FIELDS = {"Next", "Comment", "Assign", "Output"}
_LABEL_FORBIDDEN = set(" \"#%&*+,/:;<=>?@[\\]^`{|}~$") | {chr(c) for c in range(0x20)} | {"\x7f"}
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: AWS's hard quota on a state machine definition ("Maximum size of state machine definition: 1 MB")
MAX_DEFINITION_BYTES = 1024 * 1024
#: JSON nesting (objects and arrays) we accept: AWS documents no limit; 100 levels hold 24 nested
#: Parallel/Map states with payload templates inside, and keep every recursive walk far from
#: Python's recursion limit
MAX_NESTING = 100
#: more values than 1 MB of JSON can hold (each takes at least two bytes, ``0,``)
MAX_VALUES = MAX_DEFINITION_BYTES // 2 + 1
#: upper bounds AWS documents: Wait "Seconds ... an integer value from 0 to 99999999", Task
#: TimeoutSeconds (default 99999999) and HeartbeatSeconds, a retrier's IntervalSeconds and
#: MaxAttempts ("maximum value of 99999999"), MaxDelaySeconds ("less than 31622401", one year)
MAX_SECONDS = 99_999_999
MAX_DELAY_SECONDS = 31_622_400
#: optimised integrations whose actions AWS checks (others are accepted as written)
_KNOWN_ACTIONS = {
    "dynamodb": {"getItem", "putItem", "updateItem", "deleteItem"},
}


def _ptr(*parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts) or "/"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_structure(document: Any, source: str = "<definition>") -> list[str]:
    """Problems with the document as JSON: nesting deeper than ``MAX_NESTING``, values JSON cannot
    hold (a dict from Python may carry anything), NaN or infinite numbers, and a size over AWS's
    1 MB quota. Iterative, so it is safe on any input; the other checks run only when it is clean."""
    problems: list[str] = []
    stack: list[tuple[Any, tuple[Any, ...], int]] = [(document, (), 0)]
    seen = 0
    while stack and len(problems) < 20:
        value, here, depth = stack.pop()
        seen += 1
        if seen > MAX_VALUES:  # YAML aliases can share one object many times over ("billion laughs")
            return [f"{source}:/: the definition holds more than {MAX_VALUES:,} values, more than 1 MB of JSON "
                    "can; Step Functions accepts at most 1 MB"]
        if isinstance(value, dict | list):
            if depth >= MAX_NESTING:
                return [f"{source}:{_ptr(*here)}: the definition nests objects and arrays more than {MAX_NESTING} "
                        "levels deep; flatten it (nested Parallel/Map states, payload templates)"]
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(value, dict) and not isinstance(key, str):
                    problems.append(f"{source}:{_ptr(*here)}: object keys must be strings; got {key!r}")
                    continue
                stack.append((item, (*here, key), depth + 1))
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{source}:{_ptr(*here)}: {value!r} is not a JSON number; use a finite number")
        elif value is not None and not isinstance(value, str | int | float | bool):
            problems.append(f"{source}:{_ptr(*here)}: a {type(value).__name__} is not a JSON value")
    if problems:
        return problems
    try:
        size = len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))
    except ValueError:  # an integer too long to print
        return [f"{source}:/: the definition holds a number of more than 4,300 digits; write it as a string"]
    if size > MAX_DEFINITION_BYTES:
        return [f"{source}:/: the definition is {size:,} bytes as compact JSON; Step Functions accepts at most "
                f"1 MB ({MAX_DEFINITION_BYTES:,} bytes); move data out of it (ItemReader, S3)"]
    return []


class _Validator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.names: dict[str, str] = {}  # state name -> pointer of its first definition (names are global)

    def report(self, pointer: str, message: str) -> None:
        self.problems.append(f"{self.source}:{pointer}: {message}")

    # -- machines and states --------------------------------------------------------------------

    def machine(self, doc: Any, base: tuple[Any, ...], language: str, top: bool = False) -> None:
        if not isinstance(doc, dict):
            self.report(_ptr(*base), "a state machine must be a JSON object with StartAt and States")
            return
        allowed = _TOP if top else {"StartAt", "States", "Comment", "ProcessorConfig", "QueryLanguage"}
        for key in doc:
            if key not in allowed:
                where = "at the top of a state machine" if top else "in a branch or item processor"
                self.report(_ptr(*base, key), f"field {key!r} is not valid {where}; remove it")
        if "QueryLanguage" in doc:
            ql = doc["QueryLanguage"]
            if ql not in (JSONPATH, JSONATA):
                self.report(_ptr(*base, "QueryLanguage"), "QueryLanguage must be \"JSONPath\" or \"JSONata\"")
            elif language == JSONATA and ql == JSONPATH and not top:
                self.report(_ptr(*base, "QueryLanguage"),
                            "a JSONata machine cannot contain JSONPath parts; remove QueryLanguage or use JSONata")
            else:
                language = ql
        if top and "TimeoutSeconds" in doc and (
                not _is_int(doc["TimeoutSeconds"]) or not 1 <= doc["TimeoutSeconds"] <= MAX_SECONDS):
            self.report(_ptr("TimeoutSeconds"), f"TimeoutSeconds must be an integer between 1 and {MAX_SECONDS}")
        self.string_field(doc, base, "Comment")
        if top:
            self.string_field(doc, base, "Version")
        if "States" not in doc:
            self.report(_ptr(*base), "These fields are required: [States]; add a States object")
        states = doc.get("States")
        if not isinstance(states, dict) or not states:
            if "States" in doc:
                self.report(_ptr(*base, "States"), "States must be a non-empty object of named states")
            states = {}
        start = doc.get("StartAt")
        if not isinstance(start, str):
            self.report(_ptr(*base, "StartAt"), "StartAt is required and must name a state")
        elif states and start not in states:
            self.report(_ptr(*base, "StartAt"), f"StartAt names {start!r}, which is not in States")
        for name, state in states.items():
            here = (*base, "States", name)
            if name in self.names:
                self.report(_ptr(*here), f"DUPLICATE_STATE_NAME: the state name {name!r} is already used at "
                                         f"{self.names[name]}; state names must be unique in the whole state "
                                         "machine, branches and item processors included")
            else:
                self.names[name] = _ptr(*here)
            try:
                self.state(name, state, states, here, language)
            except Exception as exc:  # a bug here must not hide the other states' problems
                self.report(_ptr(*here), f"this state could not be checked completely: {type(exc).__name__}: {exc}")
        if isinstance(start, str) and start in states:
            reachable = _reachable(start, states)
            for name in states:
                if name not in reachable:
                    self.report(
                        _ptr(*base, "States", name),
                        f"state {name!r} is unreachable from StartAt; remove it or add a transition to it",
                    )

    def string_field(self, obj: dict[str, Any], base: tuple[Any, ...], key: str) -> None:
        """CreateStateMachine's schema: Comment (and Version) must be strings when present."""
        if key in obj and not isinstance(obj[key], str):
            self.report(_ptr(*base, key), f"{key} must be a string")

    def transition(self, value: Any, states: dict[str, Any], here: tuple[Any, ...], key: str = "Next") -> None:
        """A Next/Default: the name of a state in the same States object."""
        if not isinstance(value, str):
            self.report(_ptr(*here), f"{key} must be the name of a state (a string); got {value!r}")
        elif value not in states:
            self.report(_ptr(*here), f"{key} names {value!r}, which is not in States")

    def state(self, name: str, state: Any, states: dict[str, Any], base: tuple[Any, ...], language: str) -> None:
        if len(name) > 80:
            self.report(_ptr(*base), "state names are at most 80 characters; shorten it")
        if not isinstance(state, dict):
            self.report(_ptr(*base), "a state must be a JSON object")
            return
        self.string_field(state, base, "Comment")
        type_ = state.get("Type")
        if type_ not in STATE_TYPES:
            self.report(_ptr(*base, "Type"),
                        f"The field 'Type' should have one of these values: [{', '.join(STATE_TYPES)}]; "
                        f"got {type_!r}")
            return
        ql = state.get("QueryLanguage", language)
        if ql not in (JSONPATH, JSONATA):
            self.report(_ptr(*base, "QueryLanguage"), "QueryLanguage must be \"JSONPath\" or \"JSONata\"")
            ql = language
        elif language == JSONATA and ql == JSONPATH:
            self.report(_ptr(*base, "QueryLanguage"),
                        "a state cannot use JSONPath when the machine uses JSONata; remove QueryLanguage")
        for key in state:
            if key not in _FIELDS[type_]:
                self.report(_ptr(*base, key), f"field {key!r} is not valid in a {type_} state; remove it")
            elif ql == JSONATA and key in _JSONPATH_ONLY:
                self.report(_ptr(*base, key), f"field {key!r} is a JSONPath field; in a JSONata state use "
                                              f"{_JSONATA_EQUIVALENT.get(key, 'Arguments/Output')} instead")
            elif ql == JSONPATH and key in _JSONATA_ONLY:
                self.report(_ptr(*base, key), f"field {key!r} needs \"QueryLanguage\": \"JSONata\"; in JSONPath "
                                              f"use {_JSONPATH_EQUIVALENT.get(key, 'Parameters')} instead")
        if type_ not in ("Choice", "Succeed", "Fail"):
            has_next, has_end = "Next" in state, state.get("End") is True
            if has_next == has_end:
                self.report(_ptr(*base), "a state needs exactly one of Next or \"End\": true")
        if "End" in state and not isinstance(state["End"], bool):
            self.report(_ptr(*base, "End"), "End must be true or false")
        if "Next" in state:
            self.transition(state["Next"], states, (*base, "Next"))
        self.io_fields(state, base, ql)
        getattr(self, f"state_{type_.lower()}")(state, states, base, ql)
        if type_ in ("Task", "Parallel", "Map"):
            if "Retry" in state:
                self.retriers(state["Retry"], base)
            if "Catch" in state:
                self.catchers(state["Catch"], states, base, ql)

    # -- field checks ---------------------------------------------------------------------------

    def io_fields(self, state: dict[str, Any], base: tuple[Any, ...], ql: str) -> None:
        if ql == JSONPATH:
            for key in ("InputPath", "OutputPath"):
                if key in state and state[key] is not None:
                    self.path(state[key], (*base, key), key)
            if "ResultPath" in state and state["ResultPath"] is not None:
                self.reference_path(state["ResultPath"], (*base, "ResultPath"), "ResultPath")
            for key in ("Parameters", "ResultSelector"):
                if key in state:
                    self.template(state[key], (*base, key))
        else:
            for key in ("Arguments", "Output"):
                if key in state:
                    self.jsonata(state[key], (*base, key))
            if "Arguments" in state and not isinstance(state["Arguments"], dict) and \
                    not jsonata_eval.is_expression(state["Arguments"]):
                self.report(_ptr(*base, "Arguments"), "Arguments must be an object or a {% %} expression")
        if "Assign" in state:
            self.assign(state["Assign"], (*base, "Assign"), ql)

    def assign(self, spec: Any, here: tuple[Any, ...], ql: str) -> None:
        if not isinstance(spec, dict):
            self.report(_ptr(*here), "Assign must be an object of variable names and values")
            return
        for key in spec:
            name = key[:-2] if ql == JSONPATH and key.endswith(".$") else key
            if not _VARIABLE_NAME.match(name) or len(name) > 80:
                self.report(_ptr(*here, key), f"{name!r} is not a valid variable name (letters, digits, _; "
                                              "not starting with a digit)")
            elif name == "states":
                self.report(_ptr(*here, key), "'states' is reserved; choose another variable name")
        if ql == JSONPATH:
            self.template(spec, here)
        else:
            self.jsonata(spec, here)

    def template(self, template: Any, here: tuple[Any, ...]) -> None:
        """A JSONPath payload template: every ``.$`` value must be a path, variable or intrinsic."""
        if isinstance(template, dict):
            for key, value in template.items():
                if key.endswith(".$"):
                    self.expression(value, (*here, key), key)
                else:
                    self.template(value, (*here, key))
        elif isinstance(template, list):
            for i, value in enumerate(template):
                self.template(value, (*here, i))

    def expression(self, value: Any, here: tuple[Any, ...], key: str) -> None:
        message = (f"The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call")
        if not isinstance(value, str):
            self.report(_ptr(*here), message)
            return
        if value.startswith("States."):
            try:
                call = intrinsics.parse(value)
            except intrinsics.IntrinsicSyntaxError as exc:
                self.report(_ptr(*here), f"{message}: {exc}")
                return
            for path in intrinsics.path_args(call):
                if path.startswith(("$.", "$[", "$$")):
                    problem = paths.check(path)
                    if problem:
                        self.report(_ptr(*here), f"{message}: {path!r} is not a valid JSONPath: {problem}")
            return
        if value.startswith("$"):
            if value.startswith(("$.", "$[", "$$")) or value == "$":
                self.path(value, here, key)
            elif not _VARIABLE_NAME.match(re.split(r"[.\[]", value[1:], maxsplit=1)[0]):
                self.report(_ptr(*here), message)
            return
        self.report(_ptr(*here), message)

    def path(self, value: Any, here: tuple[Any, ...], key: str) -> None:
        if not isinstance(value, str) or not value.startswith("$"):
            self.report(_ptr(*here), f"{key} must be a JSONPath starting with '$'")
            return
        if value.startswith("$") and not value.startswith(("$.", "$[", "$$")) and value != "$":
            if not _VARIABLE_NAME.match(re.split(r"[.\[]", value[1:], maxsplit=1)[0]):
                self.report(_ptr(*here), f"{value!r} is not a valid JSONPath")
            return
        problem = paths.check(value)
        if problem:
            self.report(_ptr(*here), f"{value!r} is not a valid JSONPath: {problem}")

    def reference_path(self, value: Any, here: tuple[Any, ...], key: str) -> None:
        if not isinstance(value, str) or paths.simple_keys(value) is None or value.startswith("$$"):
            self.report(_ptr(*here), f"{key} must be a Reference Path such as $.result (no wildcards, filters "
                                     "or $$)")

    def jsonata(self, value: Any, here: tuple[Any, ...]) -> None:
        if isinstance(value, str):
            if value.startswith("{%") and not jsonata_eval.is_expression(value):
                self.report(_ptr(*here), "a JSONata expression must end with %}")
            elif jsonata_eval.is_expression(value):
                problem = jsonata_eval.check_syntax(value)
                if problem:
                    self.report(_ptr(*here), f"invalid JSONata expression: {problem}")
        elif isinstance(value, dict):
            for key, item in value.items():
                self.jsonata(item, (*here, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.jsonata(item, (*here, i))

    def number_or_path(self, state: dict[str, Any], base: tuple[Any, ...], ql: str, key: str,
                       low: float, high: float | None = None, integer: bool = True) -> None:
        path_key = f"{key}Path"
        if key in state and path_key in state:
            self.report(_ptr(*base, key), f"use only one of {key} and {path_key}")
        if key in state:
            value = state[key]
            if ql == JSONATA and jsonata_eval.is_expression(value):
                self.jsonata(value, (*base, key))
                return
            ok = (_is_int(value) if integer else _is_number(value)) and value >= low and \
                (high is None or value <= high) and (integer or math.isfinite(value))
            if not ok:
                bound = f"between {low} and {high}" if high is not None else f">= {low}"
                kind = "an integer" if integer else "a number"
                self.report(_ptr(*base, key), f"{key} must be {kind} {bound}")
        if path_key in state and ql == JSONPATH:
            self.path(state[path_key], (*base, path_key), path_key)

    # -- per state type ---------------------------------------------------------------------------

    def state_pass(self, state: dict[str, Any], states: dict[str, Any], base: tuple[Any, ...], ql: str) -> None:
        return None

    def state_succeed(self, state: dict[str, Any], states: dict[str, Any], base: tuple[Any, ...], ql: str) -> None:
        return None

    def state_task(self, state: dict[str, Any], states: dict[str, Any], base: tuple[Any, ...], ql: str) -> None:
        resource = state.get("Resource")
        if not isinstance(resource, str) or not resource:
            self.report(_ptr(*base, "Resource"), "a Task state needs a Resource ARN")
        else:
            m = re.match(r"^arn:(?:\$\{[^}]*\}|[^:$])*:states:(?:\$\{[^}]*\}|[^:$])*:(?:\$\{[^}]*\}|[^:$])*:"
                         r"([a-zA-Z0-9-]+):([A-Za-z0-9]+)", resource)
            if m and m.group(1) in _KNOWN_ACTIONS and m.group(2) not in _KNOWN_ACTIONS[m.group(1)]:
                self.report(_ptr(*base, "Resource"),
                            f"The resource provided {resource} is not recognized; use one of "
                            f"{', '.join(sorted(_KNOWN_ACTIONS[m.group(1)]))} or the aws-sdk integration")
        self.number_or_path(state, base, ql, "TimeoutSeconds", 1, MAX_SECONDS)
        self.number_or_path(state, base, ql, "HeartbeatSeconds", 1, MAX_SECONDS)
        timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
        if _is_int(timeout) and _is_int(heartbeat) and heartbeat >= timeout:
            self.report(_ptr(*base, "HeartbeatSeconds"), "HeartbeatSeconds must be smaller than TimeoutSeconds")
        if "Credentials" in state:
            creds = state["Credentials"]
            if not isinstance(creds, dict) or not any(k in creds for k in ("RoleArn", "RoleArn.$", "RoleArnPath")):
                self.report(_ptr(*base, "Credentials"),
                            "The field 'RoleArn' is required but was missing; add Credentials.RoleArn")

    def state_fail(self, state: dict[str, Any], states: dict[str, Any], base: tuple[Any, ...], ql: str) -> None:
        for key in ("Error", "Cause"):
            if key in state and f"{key}Path" in state:
                self.report(_ptr(*base, key), f"use only one of {key} and {key}Path")
            if key in state:
                if not isinstance(state[key], str):
                    self.report(_ptr(*base, key), f"{key} must be a string")
                elif ql == JSONATA:
                    self.jsonata(state[key], (*base, key))
            if f"{key}Path" in state and ql == JSONPATH:
                self.expression(state[f"{key}Path"], (*base, f"{key}Path"), f"{key}Path")

    def state_wait(self, state: dict[str, Any], states: dict[str, Any], base: tuple[Any, ...], ql: str) -> None:
        given = [k for k in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if k in state]
        if len(given) != 1:
            self.report(_ptr(*base), "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, "
                                     "TimestampPath")
        if "Seconds" in state:
            value = state["Seconds"]
            if ql == JSONATA and jsonata_eval.is_expression(value):
                self.jsonata(value, (*base, "Seconds"))
            elif not _is_int(value) or not 0 <= value <= MAX_SECONDS:
                self.report(_ptr(*base, "Seconds"), f"Seconds must be an integer between 0 and {MAX_SECONDS}")
        if "Timestamp" in state:
            value = state["Timestamp"]
            if ql == JSONATA and jsonata_eval.is_expression(value):
                self.jsonata(value, (*base, "Timestamp"))
            elif choice.parse_timestamp(value) is None:
                self.report(_ptr(*base, "Timestamp"),
                            "String does not match RFC3339 timestamp; write e.g. 2026-01-01T00:00:00Z")
        for key in ("SecondsPath", "TimestampPath"):
            if key in state and ql == JSONPATH:
                self.expression(state[key], (*base, key), key)

    def state_choice(self, state: dict[str, Any], states: dict[str, Any], base: tuple[Any, ...], ql: str) -> None:
        choices = state.get("Choices")
        if not isinstance(choices, list) or not choices:
            self.report(_ptr(*base, "Choices"), "a Choice state needs a non-empty Choices array")
        else:
            for i, rule in enumerate(choices):
                here = (*base, "Choices", i)
                if not isinstance(rule, dict):
                    self.report(_ptr(*here), "a choice rule must be an object")
                    continue
                self.transition(rule.get("Next"), states, (*here, "Next"))
                self.rule(rule, here, ql, top=True)
        if "Default" in state:
            self.transition(state["Default"], states, (*base, "Default"), "Default")

    def rule(self, rule: Any, here: tuple[Any, ...], ql: str, top: bool) -> None:
        if not isinstance(rule, dict):
            self.report(_ptr(*here), "a choice rule must be an object")
            return
        self.string_field(rule, here, "Comment")
        if ql == JSONATA:
            if "Condition" not in rule:
                self.report(_ptr(*here), "a JSONata choice rule needs a Condition")
            for key in rule:
                if key not in _RULE_FIELDS | {"Condition"}:
                    self.report(_ptr(*here, key), f"field {key!r} is not valid in a JSONata choice rule; use "
                                                  "Condition")
            if "Condition" in rule:
                self.jsonata(rule["Condition"], (*here, "Condition"))
            if "Output" in rule:
                self.jsonata(rule["Output"], (*here, "Output"))
            if "Assign" in rule:
                self.assign(rule["Assign"], (*here, "Assign"), ql)
            return
        allowed = (_RULE_FIELDS - {"Output"}) if top else set()
        ops = [k for k in rule if k in choice.OPERATORS or k in choice.BOOLEAN_OPERATORS]
        for key in rule:
            if key not in allowed and key not in choice.OPERATORS and key not in choice.BOOLEAN_OPERATORS \
                    and key not in ("Variable", "Comment"):
                self.report(_ptr(*here, key), f"field {key!r} is not valid in a choice rule")
        if len(ops) != 1:
            self.report(_ptr(*here), "a choice rule needs exactly one comparison operator or And/Or/Not")
            return
        op = ops[0]
        if "Assign" in rule:
            self.assign(rule["Assign"], (*here, "Assign"), ql)
        if op in ("And", "Or"):
            if not isinstance(rule[op], list) or not rule[op]:
                self.report(_ptr(*here, op), f"{op} needs a non-empty array of rules")
                return
            for i, sub in enumerate(rule[op]):
                self.rule(sub, (*here, op, i), ql, top=False)
            return
        if op == "Not":
            self.rule(rule[op], (*here, op), ql, top=False)
            return
        if "Variable" not in rule:
            self.report(_ptr(*here), f"a {op} rule needs a Variable")
        else:
            self.expression(rule["Variable"], (*here, "Variable"), "Variable")
        value = rule[op]
        if op.endswith("Path"):
            self.expression(value, (*here, op), op)
        elif op in choice.TYPE_TESTS or op.startswith("Boolean"):
            if not isinstance(value, bool):
                self.report(_ptr(*here, op), f"{op} takes true or false")
        elif op.startswith("Numeric"):
            if not _is_number(value):
                self.report(_ptr(*here, op), f"{op} takes a number")
        elif op.startswith("Timestamp"):
            if choice.parse_timestamp(value) is None:
                self.report(_ptr(*here, op), f"{op} takes an RFC3339 timestamp string")
        elif not isinstance(value, str):
            self.report(_ptr(*here, op), f"{op} takes a string")

    def state_parallel(self, state: dict[str, Any], states: dict[str, Any], base: tuple[Any, ...],
                       ql: str) -> None:
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            self.report(_ptr(*base, "Branches"), "Value cannot be empty: a Parallel state needs a non-empty "
                                                 "Branches array")
            return
        for i, branch in enumerate(branches):
            self.machine(branch, (*base, "Branches", i), ql)

    def state_map(self, state: dict[str, Any], states: dict[str, Any], base: tuple[Any, ...], ql: str) -> None:
        key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
        if "ItemProcessor" in state and "Iterator" in state:
            self.report(_ptr(*base, "Iterator"), "use ItemProcessor only (Iterator is its legacy name)")
        if key not in state:
            self.report(_ptr(*base), "a Map state needs an ItemProcessor")
            processor: dict[str, Any] = {}
        else:
            processor = state[key] if isinstance(state[key], dict) else {}
            self.machine(state[key], (*base, key), ql)
        config = processor.get("ProcessorConfig") or {}
        mode = config.get("Mode", "INLINE") if isinstance(config, dict) else None
        if mode not in ("INLINE", "DISTRIBUTED"):
            self.report(_ptr(*base, key, "ProcessorConfig", "Mode"), "Mode must be INLINE or DISTRIBUTED")
        distributed = mode == "DISTRIBUTED"
        if isinstance(config, dict) and distributed and config.get("ExecutionType", "STANDARD") not in (
                "STANDARD", "EXPRESS"):
            self.report(_ptr(*base, key, "ProcessorConfig", "ExecutionType"), "ExecutionType must be STANDARD "
                                                                              "or EXPRESS")
        for field_name in ("ItemReader", "ItemBatcher", "ResultWriter", "Label"):
            if field_name in state and not distributed:
                self.report(_ptr(*base, field_name), f"{field_name} needs a Distributed Map "
                                                     "(ProcessorConfig.Mode DISTRIBUTED)")
        if "ItemSelector" in state and "Parameters" in state:
            self.report(_ptr(*base, "Parameters"), "use ItemSelector only (Parameters is its legacy name)")
        if ql == JSONPATH:
            if "ItemsPath" in state:
                # AWS documents a Reference Path, but its docs listed `$.jar[?(@.a >= 5)]` among reference
                # paths: a filter (or wildcard) is taken and its array iterated, rather than refuse what
                # Step Functions may accept
                self.path(state["ItemsPath"], (*base, "ItemsPath"), "ItemsPath")
            if "ItemSelector" in state:
                self.template(state["ItemSelector"], (*base, "ItemSelector"))
        else:
            for field_name in ("Items", "ItemSelector"):
                if field_name in state:
                    self.jsonata(state[field_name], (*base, field_name))
        self.number_or_path(state, base, ql, "MaxConcurrency", 0)
        self.number_or_path(state, base, ql, "ToleratedFailureCount", 0)
        self.number_or_path(state, base, ql, "ToleratedFailurePercentage", 0, 100, integer=False)
        if "Label" in state:
            label = state["Label"]
            if not isinstance(label, str) or not label:
                self.report(_ptr(*base, "Label"), "Label cannot be empty")
            elif len(label) > 40:
                self.report(_ptr(*base, "Label"), "Label cannot exceed 40 characters")
            else:
                bad = sorted({c for c in label if c in _LABEL_FORBIDDEN or "\x7f" <= c <= "\x9f"})
                if bad:
                    self.report(_ptr(*base, "Label"), f"Label contains invalid characters {bad!r}; use letters, "
                                                      "digits, - and _")
        reader = state.get("ItemReader")
        if "ItemReader" in state:
            if not isinstance(reader, dict) or not isinstance(reader.get("Resource"), str):
                self.report(_ptr(*base, "ItemReader"), "ItemReader needs a Resource")
            elif "ReaderConfig" in reader:
                config = reader["ReaderConfig"]
                if not isinstance(config, dict):
                    self.report(_ptr(*base, "ItemReader", "ReaderConfig"), "ReaderConfig must be an object")
                else:
                    self.number_or_path(config, (*base, "ItemReader", "ReaderConfig"), ql, "MaxItems", 0)
        if "ResultWriter" in state and not isinstance(state["ResultWriter"], dict):
            self.report(_ptr(*base, "ResultWriter"), "ResultWriter must be an object")
        if "ItemBatcher" in state:
            batcher = state["ItemBatcher"]
            here = (*base, "ItemBatcher")
            if not isinstance(batcher, dict):
                self.report(_ptr(*here), "ItemBatcher must be an object")
            else:
                self.number_or_path(batcher, here, ql, "MaxItemsPerBatch", 1)
                self.number_or_path(batcher, here, ql, "MaxInputBytesPerBatch", 1)
                if "BatchInput" in batcher and not isinstance(batcher["BatchInput"], dict) and not (
                        ql == JSONATA and jsonata_eval.is_expression(batcher["BatchInput"])):
                    self.report(_ptr(*here, "BatchInput"), "BatchInput must be an object")
                elif "BatchInput" in batcher:
                    (self.template if ql == JSONPATH else self.jsonata)(batcher["BatchInput"], (*here, "BatchInput"))

    # -- Retry and Catch --------------------------------------------------------------------------

    def retriers(self, retriers: Any, base: tuple[Any, ...]) -> None:
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
            self.string_field(retrier, here, "Comment")
            rate = retrier.get("BackoffRate", 2.0)
            if not _is_number(rate) or not rate >= 1 or not math.isfinite(rate):
                self.report(_ptr(*here, "BackoffRate"), "BackoffRate must be a number >= 1.0")
            for key, low, high in (("IntervalSeconds", 1, MAX_SECONDS), ("MaxAttempts", 0, MAX_SECONDS),
                                   ("MaxDelaySeconds", 1, MAX_DELAY_SECONDS)):
                if key in retrier:
                    value = retrier[key]
                    if not _is_int(value) or not low <= value <= high:
                        self.report(_ptr(*here, key), f"{key} must be an integer between {low} and {high}")
            if retrier.get("JitterStrategy", "NONE") not in ("NONE", "FULL"):
                self.report(_ptr(*here, "JitterStrategy"), "JitterStrategy must be FULL or NONE")

    def catchers(self, catchers: Any, states: dict[str, Any], base: tuple[Any, ...], ql: str) -> None:
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
                elif ql == JSONATA and key == "ResultPath":
                    self.report(_ptr(*here, key), "ResultPath is a JSONPath field; in JSONata use Output")
                elif ql == JSONPATH and key == "Output":
                    self.report(_ptr(*here, key), "Output needs JSONata; in JSONPath use ResultPath")
            self.string_field(catcher, here, "Comment")
            self.error_equals(catcher.get("ErrorEquals"), here, i == len(catchers) - 1)
            self.transition(catcher.get("Next"), states, (*here, "Next"))
            if ql == JSONPATH and catcher.get("ResultPath") is not None:
                self.reference_path(catcher["ResultPath"], (*here, "ResultPath"), "ResultPath")
            if "Assign" in catcher:
                self.assign(catcher["Assign"], (*here, "Assign"), ql)
            if ql == JSONATA and "Output" in catcher:
                self.jsonata(catcher["Output"], (*here, "Output"))

    def error_equals(self, names: Any, here: tuple[Any, ...], last: bool) -> None:
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.report(_ptr(*here, "ErrorEquals"), "ErrorEquals must be a non-empty array of error names")
            return
        if errors.ALL in names and (len(names) > 1 or not last):
            self.report(
                _ptr(*here, "ErrorEquals"),
                "States.ALL must appear alone in ErrorEquals and in the last retrier or catcher",
            )


_JSONATA_EQUIVALENT = {"Parameters": "Arguments", "ResultSelector": "Output", "ResultPath": "Output/Assign",
                       "InputPath": "Arguments", "OutputPath": "Output", "ItemsPath": "Items",
                       "SecondsPath": "Seconds with a {% %} expression",
                       "TimestampPath": "Timestamp with a {% %} expression",
                       "ErrorPath": "Error with a {% %} expression", "CausePath": "Cause with a {% %} expression",
                       "Iterator": "ItemProcessor"}
_JSONPATH_EQUIVALENT = {"Arguments": "Parameters", "Output": "ResultSelector/ResultPath/OutputPath",
                        "Items": "ItemsPath"}


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
    structure = check_structure(document, source)
    if structure:
        return structure
    validator = _Validator(source)
    try:
        language = document.get("QueryLanguage", JSONPATH) if isinstance(document, dict) else JSONPATH
        validator.machine(document, (), language if language in (JSONPATH, JSONATA) else JSONPATH, top=True)
    except Exception as exc:  # never a traceback for a user's definition
        validator.report("/", f"the definition could not be checked completely: {type(exc).__name__}: {exc}")
    return validator.problems
