"""JSONata for ASL (``QueryLanguage: "JSONata"``): ``{% expr %}`` strings through jsonata-python.

``$states`` (input, result, errorOutput, context) and the workflow variables are bound for each
evaluation; a string that is not wrapped in ``{% %}`` is a literal.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from asl_airflow.asl import errors


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


@lru_cache(maxsize=2048)
def _compile(source: str) -> Any:
    import jsonata

    return jsonata.Jsonata(source)


def evaluate(expr: str, states: dict[str, Any], variables: dict[str, Any] | None) -> Any:
    """Evaluate one ``{% ... %}`` string."""
    source = expr[2:-2].strip()
    try:
        compiled = _compile(source)
    except Exception as exc:
        raise errors.AslError(errors.QUERY_EVALUATION_ERROR, f"Invalid JSONata expression {source!r}: {exc}")
    bindings = dict(variables or {})
    bindings["states"] = states
    try:
        result = compiled.evaluate(None, bindings)
    except errors.AslError:
        raise
    except Exception as exc:
        raise errors.AslError(
            errors.QUERY_EVALUATION_ERROR, f"An error occurred while evaluating {source!r}: {exc}"
        ) from exc
    return _plain(result)


def _plain(value: Any) -> Any:
    """jsonata-python returns its own sequence type for arrays; hand back plain JSON values."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def render(template: Any, states: dict[str, Any], variables: dict[str, Any] | None) -> Any:
    """Evaluate every ``{% %}`` string inside ``template`` (Arguments, Output, Assign, ...)."""
    if is_expression(template):
        return evaluate(template, states, variables)
    if isinstance(template, dict):
        return {k: render(v, states, variables) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, states, variables) for v in template]
    return template
