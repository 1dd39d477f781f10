"""Loading a definition: JSON from a file or a dict, ``${Name}`` substitutions, validation.

``load_definition`` is the single entry point both engines and every DAG file use, so a bad
definition is always reported the same way: ``<file>:<JSON pointer>: <message>``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asl_airflow.asl.errors import AslValidationError

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")


@dataclass(frozen=True)
class Definition:
    """A validated state machine: the ASL document and where it came from (for error messages)."""

    document: dict[str, Any]
    source: str = "<definition>"

    @property
    def states(self) -> dict[str, dict[str, Any]]:
        return self.document["States"]

    @property
    def start_at(self) -> str:
        return self.document["StartAt"]

    @property
    def query_language(self) -> str:
        return self.document.get("QueryLanguage", "JSONPath")

    @property
    def name(self) -> str:
        """A readable name: the file's stem without ``.asl``."""
        stem = Path(self.source).name
        for suffix in (".json", ".asl", ".json5"):
            stem = stem.removesuffix(suffix)
        return stem or "StateMachine"


def substitute(value: Any, substitutions: dict[str, Any], source: str, pointer: str = "") -> Any:
    """Fill ``${Name}`` placeholders in every string (SAM ``DefinitionSubstitutions``)."""
    if isinstance(value, str):
        if "${" not in value:
            return value

        def repl(m: re.Match[str]) -> str:
            key = m.group(1)
            if key not in substitutions:
                raise AslValidationError(
                    [f"{source}:{pointer or '/'}: no substitution for ${{{key}}}; pass it in substitutions"]
                )
            return str(substitutions[key])

        return _PLACEHOLDER.sub(repl, value)
    if isinstance(value, dict):
        return {
            substitute(k, substitutions, source, pointer): substitute(
                v, substitutions, source, f"{pointer}/{_escape(k)}"
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [substitute(v, substitutions, source, f"{pointer}/{i}") for i, v in enumerate(value)]
    return value


def _escape(token: str) -> str:
    """RFC 6901 JSON pointer escaping."""
    return token.replace("~", "~0").replace("/", "~1")


#: a file larger than this is refused before it is read (AWS accepts 1 MB; pretty-printing and
#: comments in YAML may make the file itself larger than the definition it holds)
MAX_FILE_BYTES = 16 * 1024 * 1024


def _reject_constant(name: str) -> Any:
    """``json.loads`` accepts NaN and Infinity; JSON (and Step Functions) does not."""
    raise ValueError(f"{name} is not valid JSON; use a number or a string")


def parse_json(text: str, source: str) -> Any:
    """JSON text to a value; every way it can fail is an AslValidationError naming the file."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise AslValidationError(
            [f"{source}:/: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"]
        ) from None
    except RecursionError:
        from asl_airflow.asl.validation import MAX_NESTING

        raise AslValidationError([f"{source}:/: the definition nests objects and arrays more than {MAX_NESTING} "
                                  "levels deep; flatten it"]) from None
    except ValueError as exc:  # NaN/Infinity, or an integer of more than 4,300 digits
        reason = "a number has more than 4,300 digits; write it as a string" if "digits" in str(exc) else str(exc)
        raise AslValidationError([f"{source}:/: not valid JSON: {reason}"]) from None


def read_text(path: str | Path) -> str:
    """A definition file's text: at most ``MAX_FILE_BYTES``, UTF-8 (a BOM is allowed)."""
    source = str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_FILE_BYTES:
            raise AslValidationError([f"{source}:/: the file is {size:,} bytes; a state machine definition is at "
                                      "most 1 MB (Step Functions' quota)"])
        data = Path(path).read_bytes()
    except OSError as exc:
        raise AslValidationError([f"{source}:/: cannot read the file: {exc.strerror or exc}"]) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise AslValidationError([f"{source}:/: the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                                  f"offset {exc.start}, line {line}); save it as UTF-8"]) from None


def read_document(path_or_dict: str | Path | dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The raw document and its source name; unreadable or non-JSON input is a validation error."""
    if isinstance(path_or_dict, dict):
        return path_or_dict, "<definition>"
    source = str(path_or_dict)
    document = parse_json(read_text(path_or_dict), source)
    if not isinstance(document, dict):
        raise AslValidationError([f"{source}:/: a state machine definition must be a JSON object"])
    return document, source


def load_definition(
    path_or_dict: str | Path | dict[str, Any] | Definition,
    substitutions: dict[str, Any] | None = None,
    source: str | None = None,
) -> Definition:
    """Read, substitute and validate a definition; raises AslValidationError listing every problem."""
    if isinstance(path_or_dict, Definition):
        return path_or_dict
    from asl_airflow.asl.validation import check_structure, validate

    document, default_source = read_document(path_or_dict)
    source = source or default_source
    structure = check_structure(document, source)  # before any recursive step, substitution included
    if structure:
        raise AslValidationError(structure)
    if substitutions is not None or "${" in json.dumps(document):
        document = substitute(document, substitutions or {}, source)
    problems = validate(document, source)
    if problems:
        raise AslValidationError(problems)
    return Definition(document, source)
