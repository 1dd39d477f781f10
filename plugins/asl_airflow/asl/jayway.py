"""JsonPath with Jayway's meaning, on jsonpath-ng's parser.

Step Functions evaluates paths with Jayway JsonPath; jsonpath-ng (its ``ext`` parser, which has
filters) follows RFC 9535. Rather than a parser of our own, the path text gets the two spellings
jsonpath-ng lacks rewritten, and the tree it parses is rebuilt with Jayway's meaning:

- a ``.`` before a bracket is skipped (``$.[?(@.OU > 0)]``, ``$.abc.['def ghi']``), as Jayway does;
- a number with no digit before its point (``@.Score > .85``) is a number, as Java's BigDecimal reads it;
- a filter applied to an object tests that object itself (RFC 9535 tests its members' values), so
  ``$.[?(@.OU > 0)]`` on ``{"OU": 3}`` gives ``[{"OU": 3}]``; ``$..[?(...)]`` tests each object it
  visits once;
- ``=~ /regex/flags`` is a regex literal and must match the whole string (Java's ``matches()``);
- jsonpath-ng's own syntax that is not Jayway's (``|``, ``&``, ``where``, arithmetic, `` `len` ``,
  sorting, ``=`` as a comparison, ``@`` outside a filter) is refused with :class:`InvalidPath`, so
  validation reports it with its pointer instead of the run failing.

Imported only when a path is not a simple one (``paths.simple_keys``), like jsonpath-ng itself.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

from jsonpath_ng import jsonpath as jp
from jsonpath_ng.ext import filter as jf
from jsonpath_ng.ext import parse as _parse

Key = str | int

#: the comparison operators of a Jayway filter (jsonpath-ng also takes ``=``, Jayway does not)
_OPERATORS = frozenset({None, "!", "==", "!=", "<", "<=", ">", ">=", "=~"})
#: Jayway's regex flags mapped to Python's inline flags (``u``, ``U``, ``d`` are Python's default
#: for text or have no counterpart that changes a match of JSON text)
_REGEX_FLAGS = {"i": "i", "m": "m", "s": "s", "x": "x", "u": "", "U": "", "d": ""}


#: Jayway's functions and word operators, named in the error instead of jsonpath-ng's parse error
_FUNCTION = re.compile(r"\.(length|size|min|max|avg|stddev|sum|keys|concat|append|first|last|index)\(\s*\)?")
_WORD_OPERATOR = re.compile(r"\s(in|nin|subsetof|anyof|noneof|size|empty|contains)\s")


#: how the jsonpath-ng-only nodes are named in the error
_NOT_JAYWAY = {"_Union": "'|' (union)", "_Intersect": "'&' (intersection)", "Where": "'where'",
               "WhereNot": "'wherenot'", "Parent": "'`parent`'", "Operation": "arithmetic",
               "SortedThis": "sorting", "Len": "'`len`'", "Keys": "'`keys`'", "Str": "'str()'",
               "Sub": "'sub()'", "Split": "'split()'"}


class InvalidPath(ValueError):
    """The text is not JsonPath as Step Functions reads it."""


@dataclass(frozen=True)
class Compiled:
    """A parsed path: its tree, the keys of the definite tokens it starts with, and whether those
    are the whole path (then it selects one value, not a list)."""

    tree: Any
    prefix: tuple[Key, ...]
    definite: bool


def text(path: str) -> str:
    """``path`` with what Jayway reads and jsonpath-ng does not rewritten, outside quoted strings:
    ``.[`` becomes ``[``, and a regex literal ``=~ /re/flags`` the quoted ``'(?flags)re'``."""
    out: list[str] = []
    i, n = 0, len(path)
    quote: str | None = None
    while i < n:
        ch = path[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(path[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "." and i + 1 < n and path[i + 1] == "[" and (i == 0 or path[i - 1] != "."):
            pass  # Jayway skips a '.' before '['; '..[' is a scan and stays
        elif ch == "." and i + 1 < n and path[i + 1].isdigit() and _after_operator(out):
            out.append("0.")  # Jayway reads '.85' as a number (BigDecimal); jsonpath-ng wants '0.85'
        elif ch == "/" and "".join(out).rstrip().endswith("=~"):
            i = _regex_literal(path, i, out)
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _after_operator(out: list[str]) -> bool:
    """Whether what was written so far ends with a comparison operator (and maybe a minus sign),
    i.e. a '.' here starts a number literal, not a member."""
    before = "".join(out[-8:]).rstrip()
    if before.endswith("-"):
        before = before[:-1].rstrip()
    return before.endswith(("<", ">", "=", "!"))


def _regex_literal(path: str, start: int, out: list[str]) -> int:
    """Append ``/re/flags`` starting at ``start`` as a quoted string; return the position after it."""
    end = start + 1
    while end < len(path) and path[end] != "/":
        end += 2 if path[end] == "\\" else 1
    if end >= len(path):
        raise InvalidPath(f"the regular expression at position {start} has no closing '/'")
    flags_end = end + 1
    while flags_end < len(path) and path[flags_end].isalpha():
        flags_end += 1
    flags = path[end + 1:flags_end]
    unknown = sorted(set(flags) - set(_REGEX_FLAGS))
    if unknown:
        raise InvalidPath(f"unknown regular expression flag(s) {''.join(unknown)!r}")
    inline = "".join(dict.fromkeys(_REGEX_FLAGS[f] for f in flags if _REGEX_FLAGS[f]))
    pattern = (f"(?{inline})" if inline else "") + path[start + 1:end]
    # jsonpath-ng's lexer drops a backslash before an ordinary character: keep the regex's own
    out.append("'" + pattern.replace("\\", "\\\\").replace("'", "\\'") + "'")
    return flags_end


class JaywayFilter(jf.Filter):
    """``[?(...)]``: on an array, its matching items; on an object, the object if it matches."""

    def accepts(self, datum: Any) -> bool:
        return all(expression.find(datum) for expression in self.expressions)

    def find(self, datum: Any) -> list[Any]:
        datum = jp.DatumInContext.wrap(datum)
        if isinstance(datum.value, dict):
            return [datum] if self.accepts(datum) else []
        return super().find(datum)


class ScanFilter(JaywayFilter):
    """The filter of ``$..[?(...)]``: the scan tests every object it visits once, itself; an array
    only when the filter accepts the array itself (then its matching items), as Jayway's scan does."""

    def find(self, datum: Any) -> list[Any]:
        datum = jp.DatumInContext.wrap(datum)
        if isinstance(datum.value, dict | list) and self.accepts(datum):
            return [datum] if isinstance(datum.value, dict) else jf.Filter.find(self, datum)
        return []


class RegexMatch(jf.Expression):
    """``@.x =~ /re/``: the whole string must match (Jayway uses Java's ``Matcher.matches()``)."""

    def __init__(self, target: Any, pattern: re.Pattern[str]) -> None:
        super().__init__(target, "=~", pattern.pattern)
        self.pattern = pattern

    def find(self, datum: Any) -> list[Any]:
        return [m for m in self.target.find(jp.DatumInContext.wrap(datum))
                if isinstance(m.value, str) and self.pattern.fullmatch(m.value)]


def rebuild(node: Any, in_filter: bool = False) -> Any:
    """jsonpath-ng's tree with Jayway's meaning; InvalidPath for what is not Jayway syntax."""
    kind = type(node)
    if kind is jp.This:
        if not in_filter:
            raise InvalidPath("'@' (the current item) is only meaningful inside a filter [?(...)]")
        return node
    if kind in (jp.Root, jp.Fields, jp.Index, jp.Slice, jp.Wildcard):
        return node
    if kind is jp.Child:
        return jp.Child(rebuild(node.left, in_filter), rebuild(node.right, in_filter))
    if kind is jp.Descendants:
        right = node.right
        if type(right) is jf.Filter:
            right = ScanFilter([rebuild(e, True) for e in right.expressions])
        else:
            right = rebuild(right, in_filter)
        return jp.Descendants(rebuild(node.left, in_filter), right)
    if kind is jf.Filter:
        return JaywayFilter([rebuild(e, True) for e in node.expressions])
    if kind is jf.Expression:
        return _expression(node)
    if kind in (jf.And, jf.Or):
        return kind([rebuild(o, True) for o in node.operands])
    what = _NOT_JAYWAY.get(kind.__name__, repr(str(node)))
    raise InvalidPath(f"{what} is jsonpath-ng syntax, not JsonPath as Step Functions evaluates it")


def _expression(node: Any) -> Any:
    if node.op not in _OPERATORS:
        raise InvalidPath(f"{node.op!r} is not a filter operator (==, !=, <, <=, >, >=, =~)")
    target = rebuild(node.target, True)
    value = rebuild(node.value, True) if isinstance(node.value, jp.JSONPath) else node.value
    if node.op != "=~":
        return jf.Expression(target, node.op, value)
    if not isinstance(value, str):
        raise InvalidPath("=~ needs a regular expression, such as /^a.*/i")
    try:
        return RegexMatch(target, re.compile(value))
    except re.error as exc:
        raise InvalidPath(f"invalid regular expression {value!r}: {exc}") from exc


def _why(path: str, exc: Exception) -> str:
    """jsonpath-ng's parse error, or what Jayway has there that is not evaluated here."""
    function = _FUNCTION.search(path)
    if function:
        return (f"JsonPath functions such as {function.group(1)}() are not evaluated by Step Functions "
                "(use an intrinsic function, e.g. States.ArrayLength)")
    operator = _WORD_OPERATOR.search(path)
    if operator:
        return (f"the filter operator {operator.group(1)!r} is not supported (filters take ==, !=, <, <=, "
                ">, >=, =~ /regex/, &&, ||, ! and parentheses)")
    return f"not a valid JsonPath: {exc}"


def compile_path(path: str) -> Compiled:
    """Parse a ``$...`` path (a ``$$`` path without its first ``$``) with Jayway's meaning."""
    rewritten = text(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # jsonpath-ng's own syntax: refused anyway
        try:
            parsed = _parse(rewritten)
        except Exception as exc:  # jsonpath-ng raises several exception types for bad syntax
            raise InvalidPath(_why(rewritten, exc)) from exc
    tree = rebuild(parsed)
    tokens: list[Any] = []
    node = tree
    while type(node) in (jp.Child, jp.Descendants):
        if type(node) is jp.Descendants:
            tokens = [None]  # a scan: nothing before it counts as the definite beginning
        else:
            tokens.append(node.right)
        node = node.left
    if type(node) is not jp.Root:
        return Compiled(tree, (), False)
    keys: list[Key] = []
    for token in reversed(tokens):
        if type(token) is jp.Fields and len(token.fields) == 1:
            keys.append(token.fields[0])
        elif type(token) is jp.Index and len(token.indices) == 1:
            keys.append(token.indices[0])
        else:
            return Compiled(tree, tuple(keys), False)
    return Compiled(tree, tuple(keys), True)
