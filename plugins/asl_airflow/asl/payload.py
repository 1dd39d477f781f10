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


def render(template: Any, data: Any, context: Any, variables: dict[str, Any] | None = None,
           memo: dict[str, Any] | None = None) -> Any:
    """Render a payload template against ``data``; returns a new object, never mutates the template.

    ``memo`` is for a template rendered again and again with only the context changing (a Map's
    ItemSelector, once per item): the value of an expression that cannot depend on the context
    (:func:`context_free`) is kept there the first time it is computed and reused, so that a
    selector computing something from the state input costs once per Map, not once per item. The
    results are the same: such an expression gives the same value every time (a failure is raised
    at its first evaluation, as without the memo, and is not kept).
    """
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if memo is not None and isinstance(value, str) and context_free(value):
                    if value not in memo:
                        memo[value] = resolve_expression(value, data, context, variables, key)
                    out[key[:-2]] = memo[value]
                else:
                    out[key[:-2]] = resolve_expression(value, data, context, variables, key)
            else:
                out[key] = render(value, data, context, variables, memo)
        return out
    if isinstance(template, list):
        return [render(v, data, context, variables, memo) for v in template]
    return template


#: intrinsics whose value changes from one call to the next with the same arguments
_UNREPEATABLE = ("States.UUID", "States.MathRandom")


def context_free(expr: str) -> bool:
    """True when the value of ``expr`` depends only on the data and the variables: no ``$$`` (the
    context object) anywhere in it and no intrinsic that answers differently each time. Textual,
    hence conservative: a ``$$`` inside a string literal also counts."""
    return "$$" not in expr and not any(name in expr for name in _UNREPEATABLE)
