"""JSONata for ASL (``QueryLanguage: "JSONata"``): ``{% expr %}`` strings through jsonata-python.

``$states`` (input, result, errorOutput, context) and the workflow variables are bound for each
evaluation; a string that is not wrapped in ``{% %}`` is a literal. AWS adds a few functions of its
own (``$partition``, ``$range``, ``$hash``, ``$random``, ``$uuid``, ``$parse``); they are registered
on every compiled expression. JSON ``null`` and JSONata *undefined* are kept apart (jsonata-python's
``NULL_VALUE``), because AWS fails a field whose expression returns nothing.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from functools import lru_cache
from typing import Any

from asl_airflow.asl import errors

_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def type_name(value: Any) -> str:
    """JSON type names as AWS prints them in error causes."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _fail(message: str) -> Any:
    raise errors.AslError(errors.QUERY_EVALUATION_ERROR, message)


def _partition(array: Any, size: Any) -> Any:
    if not isinstance(array, list) or not isinstance(size, int | float) or size <= 0:
        return _fail("$partition expects an array and a positive chunk size")
    n = int(size)
    return [list(array[i:i + n]) for i in range(0, len(array), n)]


def _range(start: Any, end: Any, step: Any) -> Any:
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (start, end, step)) or step == 0:
        return _fail("$range expects three numbers and a non-zero step")
    out = []
    value = start
    while (step > 0 and value <= end) or (step < 0 and value >= end):
        out.append(value)
        value += step
        if len(out) > 1000:
            return _fail("$range cannot produce more than 1000 items")
    return out[0] if len(out) == 1 else out  # a JSONata sequence of one is that value


def _hash(data: Any, algorithm: Any) -> Any:
    if not isinstance(data, str) or algorithm not in _HASHES:
        return _fail(f"$hash expects a string and one of {', '.join(_HASHES)}")
    return hashlib.new(_HASHES[algorithm], data.encode("utf-8")).hexdigest()


def _random(seed: Any = None) -> float:
    return random.Random(seed).random() if seed is not None else random.random()


def _uuid() -> str:
    return str(uuid.uuid4())


def _parse(text: Any) -> Any:
    if not isinstance(text, str):
        return _fail("$parse expects a JSON string")
    try:
        return _to_jsonata(json.loads(text))
    except json.JSONDecodeError as exc:
        return _fail(f"$parse could not parse {text!r}: {exc.msg}")


@lru_cache(maxsize=2048)
def _compile(source: str) -> Any:
    import jsonata

    expr = jsonata.Jsonata(source)
    expr.set_output_convert_nulls(False)
    expr.register_lambda("partition", _partition)
    expr.register_lambda("range", _range)
    expr.register_lambda("hash", _hash)
    expr.register_lambda("random", _random)
    expr.register_lambda("uuid", _uuid)
    expr.register_lambda("parse", _parse)
    return expr


def check_syntax(expr: str) -> str | None:
    """The syntax error of a ``{% %}`` string, or None if it compiles (used by validation)."""
    try:
        _compile(expr[2:-2].strip())
    except Exception as exc:  # jsonata-python raises JException and a few others
        return str(exc)
    return None


def _null() -> Any:
    from jsonata.utils import Utils

    return Utils.NULL_VALUE


def _to_jsonata(value: Any) -> Any:
    """JSON in, with ``null`` as jsonata-python's NULL_VALUE (so that it differs from undefined)."""
    if value is None:
        return _null()
    if isinstance(value, dict):
        return {k: _to_jsonata(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_jsonata(v) for v in value]
    return value


def evaluate(expr: str, states: dict[str, Any], variables: dict[str, Any] | None, field: str = "") -> Any:
    """Evaluate one ``{% ... %}`` string; an undefined result is States.QueryEvaluationError."""
    source = expr[2:-2].strip()
    try:
        compiled = _compile(source)
    except Exception as exc:
        raise errors.AslError(
            errors.QUERY_EVALUATION_ERROR, f"The JSONata expression '{source}' is invalid: {exc}"
        ) from exc
    bindings = {k: _to_jsonata(v) for k, v in (variables or {}).items()}
    bindings["states"] = _to_jsonata(states)
    try:
        result = compiled.evaluate(None, bindings)
    except errors.AslError:
        raise
    except RecursionError as exc:
        raise errors.AslError(
            errors.QUERY_EVALUATION_ERROR, f"The JSONata expression '{source}' is too deeply nested"
        ) from exc
    except Exception as exc:
        where = f" specified for the field '{field}'" if field else ""
        raise errors.AslError(
            errors.QUERY_EVALUATION_ERROR,
            f"An error occurred while evaluating the JSONata expression '{source}'{where}: {exc}",
        ) from exc
    if result is None:
        where = f" specified for the field '{field}'" if field else ""
        raise errors.AslError(
            errors.QUERY_EVALUATION_ERROR,
            f"The JSONata expression '{source}'{where} returned nothing (undefined).",
        )
    try:
        return plain(result)
    except _Unsupported:
        where = f" specified for the field '{field}'" if field else ""
        raise errors.AslError(
            errors.QUERY_EVALUATION_ERROR,
            f"The JSONata expression '{source}'{where} returned an unsupported result type.",
        ) from None


class _Unsupported(TypeError):
    """A JSONata value with no JSON form (a function, a regex)."""


def plain(value: Any) -> Any:
    """jsonata-python returns its own sequence type and NULL_VALUE; hand back plain JSON values."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise errors.AslError(errors.QUERY_EVALUATION_ERROR, "The JSONata expression returned a non-finite number")
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    if value is not None and type(value).__name__ == "NullValue":
        return None
    if value is None or isinstance(value, str | int | bool):
        return value
    raise _Unsupported(type(value).__name__)


def render(template: Any, states: dict[str, Any], variables: dict[str, Any] | None, field: str = "") -> Any:
    """Evaluate every ``{% %}`` string inside ``template`` (Arguments, Output, Assign, ...)."""
    if isinstance(template, str):
        if is_expression(template):
            return evaluate(template, states, variables, field)
        return template
    if isinstance(template, dict):
        return {k: render(v, states, variables, f"{field}/{k}" if field else k) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, states, variables, f"{field}[{i}]" if field else str(i)) for i, v in enumerate(template)]
    return template
