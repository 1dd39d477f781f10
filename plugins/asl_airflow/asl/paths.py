"""JSONPath as ASL uses it: Paths, Reference Paths and the ``$$`` context object.

Simple paths (``$.a.b[0]``, ``$['a b']``) are the overwhelming majority in real definitions, so they
are parsed once into a tuple of keys and walked directly; everything else (wildcards, filters,
slices, ``..``) goes through jsonpath-ng's extended parser. Both are cached per path string.

Step Functions evaluates paths with Jayway JsonPath; ``asl/jayway.py`` gives jsonpath-ng's tree
Jayway's meaning (``.[``, filters on objects, regex literals) and refuses what Jayway would not read.
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from typing import Any

from asl_airflow.asl import errors

_MISSING = object()
#: a sentinel for "no value given" that callers outside this module can use too
MISSING = _MISSING

_SIMPLE_TOKEN = re.compile(
    r"""\.(?P<name>[^.\[\]'"*@()?,:\s]+)      # .name
      | \.?\[\s*(?P<index>-?\d+)\s*\]             # [0] (Jayway skips a '.' before '[')
      | \.?\[\s*'(?P<sq>(?:[^'\\]|\\.)*)'\s*\]   # ['name']
      | \.?\[\s*"(?P<dq>(?:[^"\\]|\\.)*)"\s*\]   # ["name"]
    """,
    re.VERBOSE,
)


class PathNotFound(LookupError):
    """A path selected nothing; callers turn it into the ASL error of their field."""


@lru_cache(maxsize=4096)
def simple_keys(path: str) -> tuple[str | int, ...] | None:
    """The keys of a simple (definite, no wildcard) path after ``$``/``$$``, or None if it is not simple."""
    if path.startswith("$$"):
        rest = path[2:]
    elif path.startswith("$"):
        rest = path[1:]
    else:
        return None
    keys: list[str | int] = []
    pos = 0
    while pos < len(rest):
        m = _SIMPLE_TOKEN.match(rest, pos)
        if not m:
            return None
        if m.group("name") is not None:
            keys.append(m.group("name"))
        elif m.group("index") is not None:
            keys.append(int(m.group("index")))
        else:
            # only the quote that delimits the name is escaped; other backslashes are literal (AWS)
            if m.group("sq") is not None:
                keys.append(m.group("sq").replace("\\'", "'"))
            else:
                keys.append(m.group("dq").replace('\\"', '"'))
        pos = m.end()
    return tuple(keys)


@lru_cache(maxsize=1024)
def _compiled(path: str) -> Any:
    """The parsed form (``jayway.Compiled``) of a path that is not simple; raises for a path Step
    Functions would not read (``jayway.InvalidPath`` or jsonpath-ng's parse errors)."""
    from asl_airflow.asl import jayway  # imported lazily: only complex paths need jsonpath-ng

    return jayway.compile_path(path[1:] if path.startswith("$$") else path)


def check(path: str) -> str | None:
    """Why ``path`` (a ``$``/``$$`` path) is not JsonPath that Step Functions evaluates, or None."""
    if simple_keys(path) is not None:
        return None
    try:
        _compiled(path)
    except Exception as exc:  # jsonpath-ng raises several exception types for bad syntax
        return str(exc) or type(exc).__name__
    return None


def is_definite(path: str) -> bool:
    """A definite path selects at most one node (Reference Path); others return an array."""
    return simple_keys(path) is not None


def _walk(root: Any, keys: tuple[str | int, ...], path: str) -> Any:
    node = root
    for key in keys:
        if isinstance(key, int):
            if not isinstance(node, list) or not -len(node) <= key < len(node):
                raise PathNotFound(path)
        elif not isinstance(node, dict) or key not in node:
            raise PathNotFound(path)
        node = node[key]
    return node


def get(data: Any, path: str, context: Any = None) -> Any:
    """Evaluate an ASL Path against ``data`` (or against ``context`` for ``$$`` paths).

    A definite path gives the value it selects and raises PathNotFound when it does not exist; any
    other (wildcard, filter, slice, scan, several indexes) gives the list of what it selects, possibly
    empty, even when its beginning is missing (AWS: ``$.items[*]`` of ``{}`` is ``[]``).
    """
    root = context if path.startswith("$$") else data
    keys = simple_keys(path)
    if keys is not None:
        return _walk(root, keys, path)
    try:
        compiled = _compiled(path)
    except Exception as exc:  # jsonpath-ng raises several exception types for bad syntax
        raise PathNotFound(f"{path} (invalid JSONPath: {exc})") from exc
    if compiled.definite:
        return _walk(root, compiled.prefix, path)
    return [m.value for m in compiled.tree.find(root)]


def exists(data: Any, path: str, context: Any = None) -> bool:
    """True when ``path`` selects something (used by IsPresent)."""
    try:
        value = get(data, path, context)
    except PathNotFound:
        return False
    if simple_keys(path) is None:
        return bool(value)
    return True


def set_at(data: Any, path: str, value: Any) -> Any:
    """Return a copy of ``data`` with ``value`` placed at Reference Path ``path`` (ResultPath semantics).

    Missing objects on the way are created; an existing non-object on the way is an error.
    """
    keys = simple_keys(path)
    if keys is None or path.startswith("$$"):
        raise errors.AslError(errors.RESULT_PATH_MATCH_FAILURE, f"Invalid Reference Path {path!r}")
    if not keys:
        return value
    result = copy.deepcopy(data) if isinstance(data, dict | list) else data
    if not isinstance(result, dict) and not isinstance(keys[0], int):
        raise errors.AslError(
            errors.RESULT_PATH_MATCH_FAILURE,
            f"Unable to apply ReplaceResultPath {path!r} to input {_short(data)}",
        )
    node = result
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(key, int):
            if not isinstance(node, list) or not -len(node) <= key < len(node):
                raise errors.AslError(
                    errors.RESULT_PATH_MATCH_FAILURE,
                    f"Unable to apply ReplaceResultPath {path!r} to input {_short(data)}",
                )
            if last:
                node[key] = value
            else:
                node = node[key]
            continue
        if not isinstance(node, dict):
            raise errors.AslError(
                errors.RESULT_PATH_MATCH_FAILURE,
                f"Unable to apply ReplaceResultPath {path!r} to input {_short(data)}",
            )
        if last:
            node[key] = value
        else:
            if key not in node:
                node[key] = {}
            elif not isinstance(node[key], dict | list):
                raise errors.AslError(
                    errors.RESULT_PATH_MATCH_FAILURE,
                    f"Unable to apply ReplaceResultPath {path!r} to input {_short(data)}",
                )
            node = node[key]
    return result


def normalized(path: str) -> str:
    """A path as AWS prints it in error causes: ``$.a[0]`` -> ``$['a'][0]``."""
    keys = simple_keys(path)
    if keys is None:
        return path
    root = "$$" if path.startswith("$$") else "$"
    return root + "".join(f"[{k}]" if isinstance(k, int) else f"['{k}']" for k in keys)


def _short(value: Any) -> str:
    import json

    text = json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) < 200 else text[:197] + "..."
