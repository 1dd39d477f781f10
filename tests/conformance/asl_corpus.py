"""The LocalStack-derived ASL corpus: which executions to run, how to build them, how to compare.

Shared by the conformance test and ``bench/interpreter.py``. A *case execution* is one execution
recorded against real AWS (``aws_marker == "validated"``) of a template that calls no service
(``classification.json``: ``pure``). The template is rebuilt the way the LocalStack test built it,
as far as the corpus records it mechanically (``patches``, ``string_substitutions``, the choice
operator helper's ``substitutions``).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "asl-corpus" / "localstack"
EXCEPTIONS_FILE = Path(__file__).resolve().parent / "exceptions.json"

#: snapshot values the recording tool rewrote: any actual value matches them
_REDACTED = {"date", "snf_role_arn", "sfn_role_arn", "role_arn", "start-time"}
#: the recording tool's account id; ours differs
_ACCOUNT = "111111111111"
#: timestamps the recording tool redacted in execution inputs; rebuilt as "now"
_REDACTED_TIMESTAMPS = {"date", "<timestamp>"}
_PLACEHOLDER = re.compile(r"<[^<>]+>")


@dataclass
class CaseExecution:
    id: str
    test_id: str
    template_path: str
    definition: dict[str, Any]
    input: Any
    expected: dict[str, Any]
    redactions: set[str] = field(default_factory=set)


#: what the session saw, printed in the terminal summary by conftest.py
COUNTS = {"agreeing": 0, "exceptions": 0, "validation_rejected": 0, "validation_accepted": 0}


def available() -> bool:
    return (CORPUS / "cases.json").is_file() and (CORPUS / "templates.json").is_file()


@lru_cache(maxsize=1)
def _load() -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, dict[str, Any]]]:
    cases = json.loads((CORPUS / "cases.json").read_text())["cases"]
    templates = json.loads((CORPUS / "templates.json").read_text())
    classification = {t["path"]: t for t in json.loads((CORPUS / "classification.json").read_text())["templates"]}
    return cases, templates, classification


def _short_id(test_id: str, key: str) -> str:
    name = test_id.split("/")[-1]
    return f"{name}#{key}"


def _apply_patches(doc: dict[str, Any], patches: list[dict[str, Any]]) -> None:
    for patch in patches:
        *parents, last = patch["path"]
        node = doc
        for key in parents:
            node = node[key]
        if patch["op"] == "set":
            node[last] = copy.deepcopy(patch["value"])
        elif patch["op"] == "update":
            node[last].update(copy.deepcopy(patch["value"]))
        elif patch["op"] == "delete":
            node.pop(last, None)
        else:
            raise ValueError(f"unknown patch op {patch['op']!r}")


def build_definition(case: dict[str, Any], execution: dict[str, Any]) -> dict[str, Any]:
    """The definition the LocalStack test created for this execution."""
    _, templates, _ = _load()
    text = json.dumps(templates[case["template"]])
    for old, new in case.get("string_substitutions", []):
        text = text.replace(old, new)
    subs = case.get("substitutions")
    if subs:
        for key, value in subs.items():
            if key.startswith("%"):
                text = text.replace(key, value)
        if subs.get("add_literal_value"):
            value = execution["input"].get("Value") if isinstance(execution["input"], dict) else None
            text = text.replace('"$.Value"', json.dumps(value))
    doc = json.loads(text)
    if case.get("patches"):
        _apply_patches(doc, case["patches"])
    return doc


def executions(include_all: bool = False) -> list[CaseExecution]:
    """Every AWS-validated execution of a pure template (``include_all``: of any template too)."""
    cases, _, classification = _load()
    out: list[CaseExecution] = []
    seen: dict[str, int] = {}
    for case in cases:
        template = case.get("template")
        if not template or case.get("aws_marker") != "validated":
            continue
        if not include_all and classification.get(template, {}).get("category") != "pure":
            continue
        for execution in case["executions"]:
            ident = _short_id(case["test_id"], execution["key"])
            if ident in seen:
                seen[ident] += 1
                ident = f"{ident}~{seen[ident]}"
            else:
                seen[ident] = 1
            out.append(CaseExecution(
                ident, case["test_id"], template, build_definition(case, execution),
                _rebuild_input(execution["input"], rebuild_timestamps=not case.get("substitutions"),
                               test_id=case["test_id"]),
                execution["expected"], set(case.get("redaction_tokens", [])),
            ))
    return out


#: tests whose redacted input timestamp is rebuilt from the test's parameter (in its id):
#: a format suffix after the seconds, or a number of days from now
_TIMESTAMP_PARAMS = {
    "test_wait_timestamppath": lambda now, p: now.strftime("%Y-%m-%dT%H:%M:%S") + p,
    "test_timestamp_too_far_in_future_boundary": lambda now, p: (now + timedelta(days=int(p))).strftime(
        "%Y-%m-%dT%H:%M:%SZ"),
}


def _rebuild_input(value: Any, rebuild_timestamps: bool, test_id: str = "") -> Any:
    """The input the test sent: JSON text is parsed (AWS takes input as text), and timestamps the
    recording tool redacted are rebuilt as the current time (what the tests computed), in the
    format the test's parameter names when it names one."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if not rebuild_timestamps:
        return value
    moment = datetime.now(UTC)
    now = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    m = re.search(r"::(\w+)\[([^\]]*)\]$", test_id)
    if m and m.group(1) in _TIMESTAMP_PARAMS:
        now = _TIMESTAMP_PARAMS[m.group(1)](moment, m.group(2))

    def walk(node: Any) -> Any:
        if isinstance(node, str) and node in _REDACTED_TIMESTAMPS:
            return now
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(value)


def rejected_definitions() -> list[tuple[str, dict[str, Any], str]]:
    """Corpus definitions AWS refused at CreateStateMachine: ``(id, definition, AWS message)``.

    Refusals that depend on something besides the definition (an EXPRESS machine type, the TestState
    API) are left out. The Map Label tests set ``Label = f"label_{char}"`` with the char in the id.
    """
    cases, templates, _ = _load()
    out = []
    for case in cases:
        api = case.get("expected_api_errors") or {}
        template = case.get("template")
        if not template or template not in templates or case.get("aws_marker") != "validated":
            continue
        for key, err in api.items():
            code = err.get("Code") or err.get("exception_typename")
            message = err.get("Message") or err.get("exception_value") or ""
            if code != "InvalidDefinition" or "Express state machine" in message or "TestState" in message:
                continue
            fake_execution = {"input": {}}
            definition = build_definition(case, fake_execution)
            m = re.search(r"\[(.*)\]$", case["test_id"])
            if "label_invalid_char" in case["test_id"] and m:
                char = m.group(1).encode("latin-1", "backslashreplace").decode("unicode_escape")
                definition["States"]["MapState"]["Label"] = f"label_{char}"
            out.append((_short_id(case["test_id"], key), definition, message))
    return out


def accepted_templates() -> list[tuple[str, dict[str, Any]]]:
    """Templates AWS ran (some validated case executed them), as the tests built them."""
    cases, _, _ = _load()
    out: dict[str, dict[str, Any]] = {}
    for case in cases:
        if not case.get("template") or case.get("aws_marker") != "validated" or not case["executions"]:
            continue
        if case.get("expected_api_errors") or case.get("modified_by_test"):
            continue  # what the test changed before creating the machine is not in the corpus
        usable = [e for e in case["executions"]
                  if not (case.get("substitutions") and isinstance(e["input"], dict)
                          and e["input"].get("Value") == "date")]
        if not usable:
            continue  # the literal the helper put in the definition was redacted
        first = usable[0]
        key = _short_id(case["test_id"], first["key"])
        out[key] = build_definition(case, first)
    return sorted(out.items())


# --- comparison -----------------------------------------------------------------------------------


def _matches_text(expected: str, actual: Any, redactions: set[str]) -> bool:
    if expected in _REDACTED or expected in redactions:
        return True
    if not isinstance(actual, str):
        return False
    if expected == actual:
        return True
    if _PLACEHOLDER.search(expected) or _ACCOUNT in expected or any(r in expected for r in redactions if r):
        pattern = re.escape(expected)
        pattern = re.sub(re.escape("<") + r"[^<>]+?" + re.escape(">"), ".+", pattern)
        pattern = pattern.replace(_ACCOUNT, r"\d{12}")
        for token in sorted(redactions, key=len, reverse=True):
            if token:
                pattern = pattern.replace(re.escape(token), ".+")
        return re.fullmatch(pattern, actual, re.DOTALL) is not None
    return False


def values_match(expected: Any, actual: Any, redactions: set[str] = frozenset()) -> bool:  # type: ignore[assignment]
    """JSON equality where redacted snapshot values (``date``, ``<ArnPart_0idx>``...) are wildcards."""
    if isinstance(expected, str):
        if _matches_text(expected, actual, redactions):
            return True
        return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    if isinstance(expected, dict):
        return isinstance(actual, dict) and expected.keys() == actual.keys() and all(
            values_match(v, actual[k], redactions) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            values_match(e, a, redactions) for e, a in zip(expected, actual, strict=True)
        )
    return expected == actual


def output_matches(expected: Any, actual: Any, redactions: set[str]) -> bool:
    """The snapshot holds an execution's output parsed, or as the JSON text AWS returned."""
    if values_match(expected, actual, redactions):
        return True
    if isinstance(expected, str):
        try:
            parsed = json.loads(expected)
        except ValueError:
            return False
        return values_match(parsed, actual, redactions)
    return False


#: what AWS puts in front of the cause of a state's own error (States.Runtime, States.QueryEvaluationError)
_LOCATION = re.compile(r"An error occurred while executing the state '.+?' \(entered at the event id #\d+\)\.")


def location(cause: Any) -> str | None:
    """The state and event id a cause starts with (``An error occurred while executing the state
    'X' (entered at the event id #N).``), or None when it names none."""
    found = _LOCATION.match(cause) if isinstance(cause, str) else None
    return found.group(0) if found else None


def compare(case: CaseExecution, result: dict[str, Any]) -> list[str]:
    """Differences between an execution result (``ExecutionResult.as_dict(True)``) and AWS's record.

    Of a failed execution's cause, the location AWS puts in front of a state's own error must be the
    same (state and event id, or none); the message after it is the engine's own wording."""
    expected = case.expected
    problems: list[str] = []
    status = expected.get("status", "")
    types = [e["type"] for e in result.get("history", [])]
    if status.startswith("INCOMPLETE"):
        if result["status"] != "ABORTED":
            problems.append(f"status: AWS was still running, we ended {result['status']}")
        if types and types[-1] == "ExecutionAborted":
            types = types[:-1]
    elif result["status"] != status:
        problems.append(f"status: expected {status}, got {result['status']} ({result.get('error')}: "
                        f"{result.get('cause')})")
    if status == "SUCCEEDED" and "output" in expected and not output_matches(
        expected["output"], result.get("output"), case.redactions
    ):
        problems.append(f"output: expected {json.dumps(expected['output'])[:600]}, "
                        f"got {json.dumps(result.get('output'))[:600]}")
    if status == "FAILED" and expected.get("error") != result.get("error"):
        problems.append(f"error: expected {expected.get('error')!r}, got {result.get('error')!r} "
                        f"({result.get('cause')})")
    elif status == "FAILED" and "cause" in expected and location(expected["cause"]) != location(result.get("cause")):
        problems.append(f"cause: AWS locates the error as {location(expected['cause'])!r}, got "
                        f"{result.get('cause')!r}")
    if "event_types" in expected and expected["event_types"] != types:
        problems.append(f"events: expected {expected['event_types']}, got {types}")
    return problems


def wants_abort(case: CaseExecution) -> bool:
    """AWS's record ends while the execution still waited (or was stopped during a Wait)."""
    status = case.expected.get("status", "")
    return status.startswith("INCOMPLETE") or status == "ABORTED"


def load_exceptions() -> dict[str, str]:
    if not EXCEPTIONS_FILE.is_file():
        return {}
    return json.loads(EXCEPTIONS_FILE.read_text())["exceptions"]
