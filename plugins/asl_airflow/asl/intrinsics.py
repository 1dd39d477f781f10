"""Intrinsic functions (``States.Format(...)``, ``States.Array(...)``, ...) of JSONPath-mode ASL.

An intrinsic is parsed once into a small tree (cached per expression string) and evaluated against
the state's data, the context object and the variables. Arguments are string literals in single
quotes (escapes ``\\'``, ``\\{``, ``\\}``, ``\\\\``), numbers, ``true``/``false``/``null``, Paths
(``$.x``, ``$$.x``), variables (``$name``) and nested intrinsics.

Any failure while evaluating is ``States.Runtime`` as on AWS (the definition itself was already
checked by :func:`parse` at validation time: unknown functions and bad arities are rejected there).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from asl_airflow.asl import errors, strictjson

#: name -> (min args, max args or None)
ARITY: dict[str, tuple[int, int | None]] = {
    "States.Format": (1, None),
    "States.StringToJson": (1, 1),
    "States.JsonToString": (1, 1),
    "States.Array": (0, None),
    "States.ArrayPartition": (2, 2),
    "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3),
    "States.ArrayGetItem": (2, 2),
    "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1),
    "States.Base64Encode": (1, 1),
    "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2),
    "States.JsonMerge": (3, 3),
    "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2),
    "States.StringSplit": (2, 2),
    "States.UUID": (0, 0),
}

_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
_MAX_STRING = 10_000
_MAX_ARRAY = 1000


class IntrinsicSyntaxError(ValueError):
    """The text is not a well-formed intrinsic function call (a definition error)."""


@dataclass(frozen=True)
class Literal:
    value: Any
    raw: str | None = None  # the string literal before unescaping (States.Format needs it)


@dataclass(frozen=True)
class PathArg:
    path: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> IntrinsicSyntaxError:
        return IntrinsicSyntaxError(f"{message} at position {self.pos} in {self.text!r}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n\r":
            self.pos += 1

    def call(self) -> Call:
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] in "._"):
            self.pos += 1
        name = self.text[start:self.pos]
        if name not in ARITY:
            raise IntrinsicSyntaxError(f"unknown intrinsic function {name!r} in {self.text!r}")
        self.skip_ws()
        if self.pos >= len(self.text) or self.text[self.pos] != "(":
            raise self.fail("expected '('")
        self.pos += 1
        args: list[Any] = []
        self.skip_ws()
        if self.pos < len(self.text) and self.text[self.pos] == ")":
            self.pos += 1
        else:
            while True:
                self.skip_ws()
                args.append(self.argument())
                self.skip_ws()
                if self.pos >= len(self.text):
                    raise self.fail("missing ')'")
                if self.text[self.pos] == ",":
                    self.pos += 1
                    continue
                if self.text[self.pos] == ")":
                    self.pos += 1
                    break
                raise self.fail("expected ',' or ')'")
        low, high = ARITY[name]
        if len(args) < low or (high is not None and len(args) > high):
            expected = f"{low}" if low == high else (f"at least {low}" if high is None else f"{low} to {high}")
            raise IntrinsicSyntaxError(f"{name} takes {expected} arguments, got {len(args)} in {self.text!r}")
        return Call(name, tuple(args))

    def argument(self) -> Any:
        text = self.text
        if self.pos >= len(text):
            raise self.fail("expected an argument")
        ch = text[self.pos]
        if ch == "'":
            return self.string()
        if ch == "$":
            return PathArg(self.path())
        if text.startswith("States.", self.pos):
            return self.call()
        start = self.pos
        while self.pos < len(text) and text[self.pos] not in ",)" and text[self.pos] not in " \t\n\r":
            self.pos += 1
        token = text[start:self.pos]
        if token in ("true", "false", "null"):
            return Literal(json.loads(token))
        try:
            return Literal(int(token))
        except ValueError:
            pass
        try:
            value = float(token)
        except ValueError:
            raise IntrinsicSyntaxError(f"invalid argument {token!r} in {text!r}") from None
        if not math.isfinite(value):
            raise IntrinsicSyntaxError(f"invalid number {token!r} in {text!r}")
        return Literal(value)

    def string(self) -> Literal:
        text = self.text
        self.pos += 1
        start = self.pos
        out: list[str] = []
        while True:
            if self.pos >= len(text):
                raise self.fail("unterminated string literal")
            ch = text[self.pos]
            if ch == "\\" and self.pos + 1 < len(text):
                if text[self.pos + 1] not in "'{}\\":
                    raise self.fail(f"illegal escape '\\{text[self.pos + 1]}' (only \\' \\{{ \\}} \\\\ are allowed)")
                out.append(text[self.pos + 1])
                self.pos += 2
                continue
            if ch == "'":
                raw = text[start:self.pos]
                self.pos += 1
                return Literal("".join(out), raw)
            out.append(ch)
            self.pos += 1

    def path(self) -> str:
        text = self.text
        start = self.pos
        depth = 0
        quote: str | None = None
        while self.pos < len(text):
            ch = text[self.pos]
            if quote:
                if ch == "\\":
                    self.pos += 1
                elif ch == quote:
                    quote = None
            elif ch in "'\"" and depth > 0:
                quote = ch
            elif ch in "[(":
                depth += 1
            elif ch in "])":
                if depth == 0:
                    break
                depth -= 1
            elif ch == "," and depth == 0:
                break
            self.pos += 1
        return text[start:self.pos].strip()


@lru_cache(maxsize=2048)
def parse(expr: str) -> Call:
    """Parse ``States.Name(args)``; raises IntrinsicSyntaxError for anything AWS would reject."""
    parser = _Parser(expr.strip())
    if not parser.text.startswith("States."):
        raise IntrinsicSyntaxError(f"{expr!r} is not an intrinsic function call")
    call = parser.call()
    parser.skip_ws()
    if parser.pos != len(parser.text):
        raise parser.fail("unexpected text after the call")
    return call


def path_args(call: Call) -> list[str]:
    """Every path among ``call``'s arguments, nested calls' included (validation checks them)."""
    found: list[str] = []
    for arg in call.args:
        if isinstance(arg, PathArg):
            found.append(arg.path)
        elif isinstance(arg, Call):
            found.extend(path_args(arg))
    return found


def evaluate(expr: str, data: Any, context: Any, variables: dict[str, Any] | None) -> Any:
    """Evaluate an intrinsic function expression; raises AslError (States.Runtime) on failure."""
    try:
        call = parse(expr)
    except IntrinsicSyntaxError as exc:
        raise errors.AslError(errors.RUNTIME, str(exc)) from exc
    return _eval(call, data, context, variables)


def _arg(arg: Any, data: Any, context: Any, variables: dict[str, Any] | None) -> Any:
    if isinstance(arg, Literal):
        return arg.value
    if isinstance(arg, Call):
        return _eval(arg, data, context, variables)
    from asl_airflow.asl import payload

    return payload.resolve_expression(arg.path, data, context, variables)


def _fail(call: Call, message: str) -> errors.AslError:
    return errors.AslError(errors.RUNTIME, f"{call.name}: {message}")


def _int_arg(call: Call, value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(call, f"expected a number for {what}, got {_text(value)}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(call, f"expected a finite number for {what}, got {value}")
        return math.floor(value + 0.5)  # rounds half up, as Java's Math.round
    return value


def _eval(call: Call, data: Any, context: Any, variables: dict[str, Any] | None) -> Any:
    name = call.name
    if name == "States.Format":
        return _format(call, data, context, variables)
    args = [_arg(a, data, context, variables) for a in call.args]
    try:
        return _FUNCTIONS[name](call, args)
    except errors.AslError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, UnicodeError, OverflowError) as exc:
        raise _fail(call, str(exc)) from exc


def _text(value: Any) -> str:
    """A value in an error cause: its JSON, shortened (never a traceback for a value with no JSON)."""
    try:
        text = strictjson.dumps(value) if not strictjson.size_exceeds(value, 1000) else "(a large value)"
    except strictjson.JsonError:
        text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _too_large(call: Call) -> errors.AslError:
    return errors.AslError(
        errors.DATA_LIMIT_EXCEEDED,
        f"{call.name}: the result would be larger than {errors.PAYLOAD_LIMIT_BYTES} bytes",
    )


def _format(call: Call, data: Any, context: Any, variables: dict[str, Any] | None) -> str:
    first = call.args[0]
    values = [_arg(a, data, context, variables) for a in call.args[1:]]
    if isinstance(first, Literal):
        if not isinstance(first.value, str):
            raise _fail(call, "the first argument must be a string")
        template = first.raw if first.raw is not None else first.value
        escaped = first.raw is not None
    else:
        template = _arg(first, data, context, variables)
        if not isinstance(template, str):
            raise _fail(call, "the first argument must be a string")
        escaped = False
    for value in values:
        if strictjson.size_exceeds(value, errors.PAYLOAD_LIMIT_BYTES):
            raise _too_large(call)
    out: list[str] = []
    size = 0
    used = 0
    i = 0
    while i < len(template):
        if size > errors.PAYLOAD_LIMIT_BYTES:
            raise _too_large(call)
        ch = template[i]
        if escaped and ch == "\\" and i + 1 < len(template):
            out.append(template[i + 1])
            i += 2
            continue
        if template.startswith("{}", i):
            if used >= len(values):
                raise _fail(call, "the template has more '{}' placeholders than arguments")
            out.append(_format_value(values[used]))
            size += len(out[-1])
            used += 1
            i += 2
            continue
        out.append(ch)
        i += 1
    if used != len(values):
        raise _fail(call, "the number of arguments does not match the '{}' placeholders")
    return "".join(out)


def _format_value(value: Any) -> str:
    """How States.Format prints a value: strings bare, objects as ``{k=v}`` (Java's toString)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_format_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def _string_to_json(call: Call, args: list[Any]) -> Any:
    (text,) = args
    if not isinstance(text, str):
        raise _fail(call, f"expected a string, got {_text(text)}")
    if not text.strip():
        return None
    return strictjson.loads(text)  # no NaN/Infinity, no number beyond a double: AWS's parser refuses them


def _json_to_string(call: Call, args: list[Any]) -> str:
    if strictjson.size_exceeds(args[0], errors.PAYLOAD_LIMIT_BYTES):
        raise _too_large(call)
    return strictjson.dumps(args[0])


def _array(call: Call, args: list[Any]) -> list[Any]:
    return list(args)


def _array_partition(call: Call, args: list[Any]) -> list[Any]:
    array, size = args
    if not isinstance(array, list):
        raise _fail(call, "the first argument must be an array")
    size = _int_arg(call, size, "the chunk size")
    if size <= 0:
        raise _fail(call, "the chunk size must be a positive integer")
    return [array[i:i + size] for i in range(0, len(array), size)]


def _array_contains(call: Call, args: list[Any]) -> bool:
    array, value = args
    if not isinstance(array, list):
        raise _fail(call, "the first argument must be an array")
    return any(_json_equal(item, value) for item in array)


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _array_range(call: Call, args: list[Any]) -> list[int]:
    first, last, step = (_int_arg(call, v, "range bounds") for v in args)
    if step == 0:
        raise _fail(call, "the step must not be zero")
    count = 0 if (last - first) * step < 0 else (last - first) // step + 1  # known before building it
    if count > _MAX_ARRAY:
        raise _fail(call, f"arrays cannot contain more than {_MAX_ARRAY} items")
    return list(range(first, last + (1 if step > 0 else -1), step))


def _array_get_item(call: Call, args: list[Any]) -> Any:
    array, index = args
    if not isinstance(array, list):
        raise _fail(call, "the first argument must be an array")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(array):
        raise _fail(call, f"index {_text(index)} is out of bounds")
    return array[index]


def _array_length(call: Call, args: list[Any]) -> int:
    if not isinstance(args[0], list):
        raise _fail(call, "the argument must be an array")
    return len(args[0])


def _array_unique(call: Call, args: list[Any]) -> list[Any]:
    if not isinstance(args[0], list):
        raise _fail(call, "the argument must be an array")
    out: list[Any] = []
    seen: set[Any] = set()
    for item in args[0]:  # linear: a hashable canonical form per item, not pairwise comparisons
        key = _canonical(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _canonical(value: Any) -> Any:
    """A hashable form equal for equal JSON values (1 and 1.0 alike, true and 1 not, key order ignored)."""
    if isinstance(value, bool) or value is None:
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", int(value) if isinstance(value, float) and value.is_integer() else value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, list):
        return ("a", tuple(_canonical(v) for v in value))
    return ("o", frozenset((k, _canonical(v)) for k, v in value.items()))


def _string_arg(call: Call, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(call, f"expected a string, got {_text(value)}")
    if len(value) > _MAX_STRING:
        raise _fail(call, f"the input is longer than {_MAX_STRING} characters")
    return value


def _base64_encode(call: Call, args: list[Any]) -> str:
    return base64.b64encode(_string_arg(call, args[0]).encode("utf-8")).decode("ascii")


def _base64_decode(call: Call, args: list[Any]) -> str:
    return base64.b64decode(_string_arg(call, args[0]).encode("ascii"), validate=True).decode("utf-8")


def _hash(call: Call, args: list[Any]) -> str:
    value, algorithm = args
    value = _string_arg(call, value)
    if algorithm not in _HASHES:
        raise _fail(call, f"unknown algorithm {_text(algorithm)}; use one of {', '.join(_HASHES)}")
    return hashlib.new(_HASHES[algorithm], value.encode("utf-8")).hexdigest()


def _json_merge(call: Call, args: list[Any]) -> dict[str, Any]:
    first, second, deep = args
    if not isinstance(first, dict) or not isinstance(second, dict):
        raise _fail(call, "both objects to merge must be JSON objects")
    if deep is not False:
        raise _fail(call, "only shallow merging is supported: the third argument must be false")
    merged = dict(first)
    merged.update(second)
    return merged


def _math_random(call: Call, args: list[Any]) -> int:
    start = _int_arg(call, args[0], "start")
    end = _int_arg(call, args[1], "end")
    rng = random.Random(_int_arg(call, args[2], "seed")) if len(args) == 3 else random
    return rng.randint(min(start, end), max(start, end))


def _math_add(call: Call, args: list[Any]) -> int:
    return _int_arg(call, args[0], "the first value") + _int_arg(call, args[1], "the second value")


def _string_split(call: Call, args: list[Any]) -> list[str]:
    text, delimiters = args
    if not isinstance(text, str) or not isinstance(delimiters, str):
        raise _fail(call, "both arguments must be strings")
    if not delimiters:
        return [text] if text else []
    # the non-empty runs between delimiters, found directly: splitting and then dropping the empty
    # pieces built one string per delimiter character (100,000 for a text made of delimiters)
    return _split_pattern(delimiters).findall(text)


@lru_cache(maxsize=16)
def _split_pattern(delimiters: str) -> re.Pattern[str]:
    """The pattern of a run of characters none of which is in ``delimiters`` (every character of
    it splits). Cached: a Map's ItemSelector splits again for every item, often by the same long
    string, and building the character set costs as much as the split."""
    return re.compile("[^" + "".join(re.escape(ch) for ch in sorted(set(delimiters))) + "]+")


def _uuid(call: Call, args: list[Any]) -> str:
    return str(uuid.uuid4())


_FUNCTIONS = {
    "States.StringToJson": _string_to_json,
    "States.JsonToString": _json_to_string,
    "States.Array": _array,
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": _array_contains,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": _array_length,
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": _base64_encode,
    "States.Base64Decode": _base64_decode,
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": _uuid,
}

