"""JSON as Step Functions accepts it: no NaN or Infinity, bounded nesting, sizes known before building.

Python's ``json`` module reads ``NaN``, ``Infinity`` and ``1e400`` (as ``float('inf')``) and writes
them back as ``NaN``/``Infinity``, which is not JSON: AWS's parser refuses them. Every text the
language parses (``States.StringToJson``, JSONata's ``$parse``, the execution input, a callback's
output) goes through :func:`loads`, and every value that leaves a state through :func:`dumps`, so a
non-finite number can neither enter nor leave an execution.

:func:`size_exceeds` answers "is this value's JSON text longer than N bytes?" by walking the value
and stopping as soon as the answer is yes, so a value that repeats one large object many times
(``States.Array($, $, ...)``, a template with many ``"x.$": "$"``) is refused without building a
text of gigabytes first.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: the deepest nesting of arrays/objects accepted in a value (the interpreter and JSONata recurse
#: over values; Python's default recursion limit is 1,000 frames)
MAX_DEPTH = 500


class JsonError(ValueError):
    """The text is not JSON as AWS reads it, or the value cannot be written as JSON."""


def _no_constant(name: str) -> Any:
    raise JsonError(f"'{name}' is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonError(f"the number {text} is out of range")
    return value


def loads(text: str | bytes) -> Any:
    """Parse JSON text strictly (no NaN/Infinity, no number that overflows a double, at most
    :data:`MAX_DEPTH` levels); raises :class:`JsonError` with the parser's reason."""
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except JsonError:
        raise
    except RecursionError:
        raise JsonError(f"the value is nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as exc:
        raise JsonError(str(exc)) from None
    except ValueError as exc:  # e.g. an integer literal too long to convert
        raise JsonError(str(exc)) from None
    check(value)
    return value


def dumps(value: Any) -> str:
    """Compact JSON as Step Functions writes it; :class:`JsonError` for a value that has no JSON text."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except RecursionError:
        raise JsonError(f"the value is nested more than {MAX_DEPTH} levels deep") from None
    except (TypeError, ValueError) as exc:
        raise JsonError(f"the value is not JSON: {exc}") from None


def check(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`JsonError` unless ``value`` is plain JSON: dicts with string keys, lists,
    strings, finite numbers, booleans, None, nested at most ``max_depth`` levels. Iterative, so a
    deeply nested value is reported rather than overflowing the stack."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth >= max_depth:
                raise JsonError(f"the value is nested more than {max_depth} levels deep")
            for key, sub in item.items():
                if not isinstance(key, str):
                    raise JsonError(f"object keys must be strings, got {type(key).__name__}")
                stack.append((sub, depth + 1))
        elif isinstance(item, list | tuple):
            if depth >= max_depth:
                raise JsonError(f"the value is nested more than {max_depth} levels deep")
            stack.extend((sub, depth + 1) for sub in item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise JsonError(f"{item!r} is not a JSON number")
        elif item is None or isinstance(item, str | int | bool):
            continue
        else:
            raise JsonError(f"a {type(item).__name__} is not a JSON value")


def _scalar_size(item: Any) -> int:
    """A lower bound of a scalar's JSON text in UTF-8 bytes (escapes only add)."""
    kind = type(item)
    if kind is str:
        return len(item) + 2
    if kind is int:
        # digits without converting (int -> str is quadratic and refused past 4,300 digits)
        return 1 if -10 < item < 10 else max(2, int(item.bit_length() * 0.30103))
    if kind is float:
        return 3
    if item is None or kind is bool:
        return 4
    if isinstance(item, str):
        return len(item) + 2
    return 1


def size_exceeds(value: Any, limit: int, max_depth: int = MAX_DEPTH) -> bool:
    """Whether ``value``'s JSON text is more than ``limit`` bytes, judged from a lower bound of its
    size. Walks at most until the running total passes ``limit``, so the cost is bounded by ``limit``
    whatever the value (shared sub-objects are counted each time they appear, as their text would
    be). A value nested deeper than ``max_depth`` raises :class:`JsonError` (no engine could write it)."""
    if not isinstance(value, dict | list | tuple):
        return _scalar_size(value) > limit
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth >= max_depth:
            raise JsonError(f"the value is nested more than {max_depth} levels deep")
        if isinstance(item, dict):
            total += 2 + 4 * len(item)  # braces, and per member at least '"":' and a comma
            for key in item:
                total += len(key)
            members: Any = item.values()
        else:
            total += 2 + len(item)  # brackets and commas
            members = item
        if total > limit:
            return True
        for sub in members:
            kind = type(sub)
            if kind is str:
                total += len(sub) + 2
            elif kind is dict or kind is list or isinstance(sub, dict | list | tuple):
                stack.append((sub, depth + 1))
            else:
                total += _scalar_size(sub)
        if total > limit:
            return True
    return False
