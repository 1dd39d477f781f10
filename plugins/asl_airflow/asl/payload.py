"""Payload templates: Parameters, ResultSelector, ItemSelector and JSONPath-mode Assign.

A key ending in ``.$`` takes its value from a Path (``$.x``, ``$$.Execution.Name``), a variable
(``$name``) or an intrinsic function (``States.Format(...)``); every other value is copied as is.
"""

from __future__ import annotations

from typing import Any

from asl_airflow.asl import errors, paths


def resolve_expression(
    expr: Any, data: Any, context: Any, variables: dict[str, Any] | None, field: str | None = None
) -> Any:
    """The value of the right-hand side of a ``.$`` key (``field`` names it in error causes)."""
    if not isinstance(expr, str):
        raise errors.AslError(errors.RUNTIME, f"The value of a '.$' field must be a string, got {expr!r}")
    if expr.startswith("States."):
        from asl_airflow.asl import intrinsics

        return intrinsics.evaluate(expr, data, context, variables)
    if expr.startswith("$$") or expr == "$" or expr.startswith("$.") or expr.startswith("$["):
        try:
            return paths.get(data, expr, context)
        except paths.PathNotFound as exc:
            raise errors.AslError(
                errors.RUNTIME,
                f"The JSONPath '{expr}' specified for the field '{field or expr}' could not be found in the "
                f"input '{paths._short(data)}'",
            ) from exc
    if expr.startswith("$"):
        return resolve_variable(expr, variables)
    raise errors.AslError(errors.RUNTIME, f"Invalid path or expression {expr!r}")


def resolve_variable(expr: str, variables: dict[str, Any] | None) -> Any:
    """``$name`` or ``$name.path.into.it``: a variable set by Assign."""
    name, sep, rest = expr[1:].partition(".")
    bracket = name.find("[")
    if bracket >= 0:
        name, rest, sep = name[:bracket], name[bracket:] + (("." + rest) if sep else ""), "["
    if variables is None or name not in variables:
        raise errors.AslError(errors.RUNTIME, f"The variable '${name}' is not defined")
    value = variables[name]
    if not sep:
        return value
    sub = "$" + ("." + rest if not rest.startswith("[") else rest)
    try:
        return paths.get(value, sub)
    except paths.PathNotFound as exc:
        raise errors.AslError(errors.RUNTIME, f"The path '{expr}' could not be found") from exc


def render(template: Any, data: Any, context: Any, variables: dict[str, Any] | None = None) -> Any:
    """Render a payload template against ``data``; returns a new object, never mutates the template."""
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = resolve_expression(value, data, context, variables, key)
            else:
                out[key] = render(value, data, context, variables)
        return out
    if isinstance(template, list):
        return [render(v, data, context, variables) for v in template]
    return template
