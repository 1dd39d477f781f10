"""Choice rules: the comparison operators of JSONPath-mode ASL and JSONata ``Condition``.

A comparison of the wrong type is simply false (``StringEquals`` on a number never matches), as on
AWS; only a ``Variable`` or ``...Path`` that selects nothing is an error (``States.Runtime``).
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from asl_airflow.asl import errors, jsonata_eval, paths, payload

_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE
)

#: the operators that compare the Variable with a value (``X``) or another path (``XPath``)
COMPARISONS = (
    "StringEquals", "StringLessThan", "StringGreaterThan", "StringLessThanEquals", "StringGreaterThanEquals",
    "NumericEquals", "NumericLessThan", "NumericGreaterThan", "NumericLessThanEquals",
    "NumericGreaterThanEquals", "BooleanEquals", "TimestampEquals", "TimestampLessThan",
    "TimestampGreaterThan", "TimestampLessThanEquals", "TimestampGreaterThanEquals",
)
TYPE_TESTS = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")
OPERATORS = frozenset(
    (*COMPARISONS, *(f"{op}Path" for op in COMPARISONS), "StringMatches", *TYPE_TESTS)
)
BOOLEAN_OPERATORS = ("And", "Or", "Not")


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (``T`` and an offset or ``Z`` are required), else None."""
    if not isinstance(value, str):
        return None
    m = _TIMESTAMP.match(value)
    if not m:
        return None
    fraction = (m.group(7) or "")[1:]
    micro = int((fraction + "000000")[:6]) if fraction else 0
    zone = m.group(8).upper()
    try:
        base = datetime.fromisoformat(
            f"{m.group(1)}-{m.group(2)}-{m.group(3)}T{m.group(4)}:{m.group(5)}:{m.group(6)}"
            + ("+00:00" if zone == "Z" else zone)
        )
    except ValueError:
        return None
    return base.replace(microsecond=micro)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@lru_cache(maxsize=512)
def _glob(pattern: str) -> re.Pattern[str]:
    """StringMatches: ``*`` is any run of characters; ``\\*`` and ``\\\\`` are a literal ``*``/``\\``."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _compare(op: str, left: Any, right: Any) -> bool:
    kind, _, rel = _split(op)
    if kind == "String":
        if not isinstance(left, str) or not isinstance(right, str):
            return False
        a, b = left, right
    elif kind == "Numeric":
        if not _is_number(left) or not _is_number(right):
            return False
        a, b = left, right
    elif kind == "Boolean":
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    else:
        ta, tb = parse_timestamp(left), parse_timestamp(right)
        if ta is None or tb is None:
            return False
        a, b = ta, tb
    if rel == "Equals":
        return a == b
    if rel == "LessThan":
        return a < b
    if rel == "GreaterThan":
        return a > b
    if rel == "LessThanEquals":
        return a <= b
    return a >= b


def _split(op: str) -> tuple[str, str, str]:
    for kind in ("String", "Numeric", "Boolean", "Timestamp"):
        if op.startswith(kind):
            return kind, "", op[len(kind):]
    raise ValueError(op)


def _variable(expr: str, data: Any, context: Any, variables: dict[str, Any] | None, field: str) -> Any:
    if expr.startswith("$") and not (expr == "$" or expr.startswith(("$.", "$[", "$$"))):
        return payload.resolve_variable(expr, variables)
    try:
        return paths.get(data, expr, context)
    except paths.PathNotFound as exc:
        raise errors.AslError(
            errors.RUNTIME,
            f"Invalid path '{expr}' : No results for path: {field}. The {field} path '{expr}' "
            f"could not be found in the input '{paths._short(data)}'",
        ) from exc


def evaluate_rule(rule: dict[str, Any], data: Any, context: Any, variables: dict[str, Any] | None) -> bool:
    """Whether a JSONPath-mode choice rule (or a nested boolean expression) matches ``data``."""
    if "And" in rule:
        return all(evaluate_rule(r, data, context, variables) for r in rule["And"])
    if "Or" in rule:
        return any(evaluate_rule(r, data, context, variables) for r in rule["Or"])
    if "Not" in rule:
        return not evaluate_rule(rule["Not"], data, context, variables)
    op = next((k for k in rule if k in OPERATORS), None)
    if op is None:
        raise errors.AslError(errors.RUNTIME, f"The choice rule {rule!r} has no comparison operator")
    expected = rule[op]
    path = rule.get("Variable", "$")
    if op == "IsPresent":
        if path.startswith("$") and not path.startswith(("$.", "$[", "$$")) and path != "$":
            try:
                payload.resolve_variable(path, variables)
                present = True
            except errors.AslError:
                present = False
        else:
            present = paths.exists(data, path, context)
        return present is expected
    value = _variable(path, data, context, variables, "Variable")
    if op in TYPE_TESTS:
        if op == "IsNull":
            actual = value is None
        elif op == "IsNumeric":
            actual = _is_number(value)
        elif op == "IsString":
            actual = isinstance(value, str)
        elif op == "IsBoolean":
            actual = isinstance(value, bool)
        else:
            actual = parse_timestamp(value) is not None
        return actual is expected
    if op == "StringMatches":
        return isinstance(value, str) and isinstance(expected, str) and bool(_glob(expected).fullmatch(value))
    if op.endswith("Path"):
        expected = _variable(expected, data, context, variables, op)
        op = op[:-4]
    return _compare(op, value, expected)


def evaluate_condition(condition: Any, states: dict[str, Any], variables: dict[str, Any] | None) -> bool:
    """A JSONata ``Condition``: must evaluate to a boolean (else States.QueryEvaluationError)."""
    value = jsonata_eval.render(condition, states, variables, field="Condition")
    if not isinstance(value, bool):
        raise errors.AslError(
            errors.QUERY_EVALUATION_ERROR,
            f"The JSONata expression '{_source(condition)}' specified for the field 'Condition' returned an "
            f"unexpected result type. Expected 'boolean', but was '{jsonata_eval.type_name(value)}' for value: "
            f"{jsonata_eval.dumps(value)}",
        )
    return value


def _source(condition: Any) -> str:
    if jsonata_eval.is_expression(condition):
        return condition[2:-2].strip()
    return str(condition)
