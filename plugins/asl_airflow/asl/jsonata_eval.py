"""JSONata for ASL (``QueryLanguage: "JSONata"``): ``{% expr %}`` strings through jsonata-python.

``$states`` (input, result, errorOutput, context) and the workflow variables are bound for each
evaluation; a string that is not wrapped in ``{% %}`` is a literal. AWS adds a few functions of its
own (``$partition``, ``$range``, ``$hash``, ``$random``, ``$uuid``, ``$parse``); they are registered
on every compiled expression. JSON ``null`` and JSONata *undefined* are kept apart (jsonata-python's
``NULL_VALUE``), because AWS fails a field whose expression returns nothing.

jsonata-python evaluates in this process, so a hostile expression is bounded here: each evaluation
has a time limit (:data:`TIME_LIMIT_SECONDS`), every intermediate string and array a size limit
(checked as each sub-expression returns), ``$pad``, ``$join`` and ``$replace`` refuse before
building a string past that limit, ``$parse`` reads JSON strictly (no ``NaN``), and a result over
256 KiB is ``States.DataLimitExceeded`` before it is converted.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
import uuid
from functools import lru_cache
from typing import Any

from asl_airflow.asl import errors, strictjson

_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}

#: the longest one JSONata evaluation may run (jsonata-python has no bound of its own)
TIME_LIMIT_SECONDS = 10.0
#: the longest string and the longest array an expression may build on its way to a result (four
#: payloads' worth: a result must end up within 256 KiB anyway)
MAX_TEXT = 4 * errors.PAYLOAD_LIMIT_BYTES
MAX_ITEMS = 4 * errors.PAYLOAD_LIMIT_BYTES


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
    if not isinstance(array, list) or not isinstance(size, int | float) or isinstance(size, bool) or size < 1:
        return _fail("$partition expects an array and a positive chunk size")
    n = int(min(size, len(array) + 1))
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
        return _to_jsonata(strictjson.loads(text))
    except strictjson.JsonError as exc:
        return _fail(f"$parse could not parse {_short(text)}: {exc}")


def _short(text: str) -> str:
    return repr(text if len(text) <= 200 else text[:200] + "...")


def _too_long(what: str) -> Any:
    return _fail(f"{what} would build a string longer than {MAX_TEXT} characters")


class _Bounded:
    """``$pad``, ``$join`` and ``$replace`` with their result size checked before it is built
    (each then runs jsonata-python's own implementation)."""

    @staticmethod
    def pad(string: Any, width: Any, char: Any) -> Any:
        from jsonata.functions import Functions

        if isinstance(width, int | float) and not isinstance(width, bool) and \
                (width != width or abs(width) > MAX_TEXT):
            return _too_long("$pad")
        return Functions.pad(string, width, char)

    @staticmethod
    def join(strs: Any, separator: Any) -> Any:
        from jsonata.functions import Functions

        if isinstance(strs, list):
            size = sum(len(s) for s in strs if isinstance(s, str))
            if isinstance(separator, str):
                size += len(separator) * max(0, len(strs) - 1)
            if size > MAX_TEXT:
                return _too_long("$join")
        return Functions.join(strs, separator)

    @staticmethod
    def replace(string: Any, pattern: Any, replacement: Any, limit: Any) -> Any:
        from jsonata.functions import Functions

        if isinstance(string, str) and isinstance(replacement, str) and pattern:
            if isinstance(pattern, str):
                matches = string.count(pattern)
            else:
                try:
                    matches = sum(1 for _ in pattern.finditer(string))
                except (AttributeError, TypeError, re.error):
                    matches = len(string) + 1
            if isinstance(limit, int | float) and not isinstance(limit, bool) and limit >= 0:
                matches = min(matches, int(limit))
            piece = len(replacement) * (1 + (len(string) if "$" in replacement else 0))  # $0 copies a match
            if len(string) + matches * piece > MAX_TEXT:
                return _too_long("$replace")
        return Functions.replace(string, pattern, replacement, limit)


class _Budget:
    """Per evaluation: the time limit (checked every 256 steps) and the size of what each step returns."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.stop = time.monotonic() + TIME_LIMIT_SECONDS
        self.steps = 0

    def entry(self, expr: Any, input_: Any, env: Any) -> None:
        self.steps += 1
        if not self.steps & 255 and time.monotonic() > self.stop:
            _fail(f"The JSONata expression '{self.source}' ran longer than {TIME_LIMIT_SECONDS:g} seconds")

    def exit(self, expr: Any, input_: Any, env: Any, result: Any) -> None:
        if isinstance(result, str):
            if len(result) > MAX_TEXT:
                _fail(f"The JSONata expression '{self.source}' built a string longer than {MAX_TEXT} characters")
        elif isinstance(result, list) and _length(result) > MAX_ITEMS:
            _fail(f"The JSONata expression '{self.source}' built an array of more than {MAX_ITEMS} items")


def _length(array: list[Any]) -> int:
    """The number of items of an array. A range (``[1..1e7]``) is lazy when its node returns, but the
    array constructor around it copies every item: it is measured (in O(1), from its bounds, as
    jsonata-python's ``RangeList.__len__`` counts one too many) so that it is refused before the
    copy (up to 10,000,000 ints, about a second each time)."""
    if type(array).__name__ == "RangeList":
        return int(array.b) - int(array.a)  # type: ignore[attr-defined]
    return len(array)


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
    expr.register_function("pad", jsonata.Jsonata.function("pad", "<s-ns?:s>", _Bounded, "pad"))
    expr.register_function("join", jsonata.Jsonata.function("join", "<a<s>s?:s>", _Bounded, "join"))
    expr.register_function("replace", jsonata.Jsonata.function("replace", "<s-(sf)(sf)n?:s>", _Bounded, "replace"))
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


#: the last state inputs, results and variables converted (id -> (value, converted)): a Retry storm
#: or a loop evaluates expressions again and again over the same objects (the context object of
#: each evaluation is new, but holds the execution's input), and converting them every time made
#: such an execution cost its input's size per attempt (seconds for a 5 KB input at the
#: 25,000-event quota). The engines never mutate a state's data (they copy), and jsonata-python
#: copies what it changes, so a conversion stays right while its source object lives (it is kept
#: here with it, so its id cannot be reused).
_CONVERTED: dict[int, tuple[Any, Any]] = {}
_CONVERTED_LOCK = threading.Lock()


def _to_jsonata(value: Any) -> Any:
    """JSON in, with ``null`` as jsonata-python's NULL_VALUE (so that it differs from undefined)."""
    if value is None:
        return _null()
    if isinstance(value, dict | list):
        kept = _CONVERTED.get(id(value))
        if kept is not None and kept[0] is value:
            return kept[1]
        if isinstance(value, dict):
            return {k: _to_jsonata(v) for k, v in value.items()}
        return [_to_jsonata(v) for v in value]
    return value


def _to_jsonata_kept(value: Any) -> Any:
    """:func:`_to_jsonata`, kept for the next evaluations over the same object."""
    if not isinstance(value, dict | list) or not value or id(value) in _CONVERTED:
        return _to_jsonata(value)
    converted = _to_jsonata(value)
    with _CONVERTED_LOCK:
        if len(_CONVERTED) >= 16:
            _CONVERTED.pop(next(iter(_CONVERTED)))
        _CONVERTED[id(value)] = (value, converted)
    return converted


@lru_cache(maxsize=4096)
def _names(source: str) -> frozenset[str] | None:
    """The ``$names`` an expression mentions; None when it may reach variables by a computed name."""
    if "$eval" in source:
        return None
    return frozenset(re.findall(r"\$(\w+)", source))


def _uses(source: str, name: str) -> bool:
    """Whether evaluating ``source`` may read the variable ``name``: only those are converted for
    jsonata-python (converting the whole input and every variable for each expression made a loop
    over a large or deep input quadratic)."""
    names = _names(source)
    return names is None or name in names


def evaluate(expr: str, states: dict[str, Any], variables: dict[str, Any] | None, field: str = "") -> Any:
    """Evaluate one ``{% ... %}`` string; an undefined result is States.QueryEvaluationError."""
    source = expr[2:-2].strip()
    try:
        compiled = _compile(source)
    except Exception as exc:
        raise errors.AslError(
            errors.QUERY_EVALUATION_ERROR, f"The JSONata expression '{source}' is invalid: {exc}"
        ) from exc
    bindings = {k: _to_jsonata_kept(v) for k, v in (variables or {}).items() if _uses(source, k)}
    if _uses(source, "states"):
        bindings["states"] = {k: _to_jsonata(v) if k == "context" else _to_jsonata_kept(v) for k, v in states.items()}
    budget = _Budget(source)
    bindings["__evaluate_entry"] = budget.entry
    bindings["__evaluate_exit"] = budget.exit
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
    """jsonata-python returns its own sequence type and NULL_VALUE; hand back plain JSON values.
    A result that cannot fit in a payload (a lazy range such as ``[1..1e7]``) is refused before it
    is materialised."""
    if isinstance(value, list | str) and len(value) > errors.PAYLOAD_LIMIT_BYTES:
        raise errors.AslError(
            errors.DATA_LIMIT_EXCEEDED,
            f"The JSONata expression returned a value larger than {errors.PAYLOAD_LIMIT_BYTES} bytes",
        )
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
