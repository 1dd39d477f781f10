"""Loading a definition: JSON or YAML, a file, a dict or a CloudFormation/SAM template; ``${Name}``
substitutions; validation.

``load_definition`` is the single entry point both engines and every DAG file use, so a bad
definition is always reported the same way: ``<file>:<JSON pointer>: <message>``.

Definitions as teams keep them: ``.asl.json``, ``.asl.yaml``/``.asl.yml``, or the state machine of a
SAM/CloudFormation template (``DefinitionUri``, ``Definition``, ``DefinitionString``, with its
``DefinitionSubstitutions``). ``${Name}`` placeholders are filled as CloudFormation fills
``DefinitionSubstitutions``: in the definition's *text*, before it is parsed (so ``"Seconds":
${Timeout}`` works), and a placeholder with no value stays as it is, with a warning.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asl_airflow.asl.errors import AslValidationError

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")
YAML_SUFFIXES = (".yaml", ".yml")
_SAM, _CFN = "AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"
#: the pseudo parameters a template's ``!Sub`` may use that do not depend on the deployment's account
#: or region (the commercial partition's; ``substitutions`` override them, e.g. ``aws-cn``). SAM
#: templates build integration ARNs with them (``!Sub arn:${AWS::Partition}:states:::dynamodb:updateItem``);
#: ``AWS::Region`` and ``AWS::AccountId`` are the deployment's, so they come from ``substitutions``
PSEUDO_PARAMETERS = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


class SubstitutionWarning(UserWarning):
    """A ``${Name}`` placeholder had no value and stays in the definition as text (as on AWS)."""


@dataclass(frozen=True)
class Definition:
    """A validated state machine: the ASL document and where it came from (for error messages)."""

    document: dict[str, Any]
    source: str = "<definition>"
    label: str | None = None  # a template's logical id: the machine's name
    warnings: tuple[str, ...] = field(default=(), compare=False)

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
        """A readable name: the template's logical id, or the file's stem without ``.asl``."""
        if self.label:
            return self.label
        stem = Path(self.source.split("#", 1)[0]).name
        for suffix in (".json", ".yaml", ".yml", ".json5", ".asl"):
            stem = stem.removesuffix(suffix)
        return stem or "StateMachine"


def _as_text(value: Any) -> str:
    """A substitution value as CloudFormation writes it into the text (``true``, ``30``, ``abc``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def substitute_text(text: str, substitutions: dict[str, Any], missing: list[str] | None = None) -> str:
    """Fill ``${Name}`` in text; a name without a value stays as it is and is added to ``missing``."""
    if "${" not in text:
        return text

    def repl(m: re.Match[str]) -> str:
        key = m.group(1)
        if key in substitutions:
            return _as_text(substitutions[key])
        if missing is not None and key not in missing:
            missing.append(key)
        return m.group(0)

    return _PLACEHOLDER.sub(repl, text)


def substitute(value: Any, substitutions: dict[str, Any], source: str = "<definition>", pointer: str = "",
               missing: list[str] | None = None) -> Any:
    """Fill ``${Name}`` placeholders in every string of a parsed document (a dict given in Python, an
    inline template ``Definition``); placeholders without a value stay, listed in ``missing``."""
    if isinstance(value, str):
        return substitute_text(value, substitutions, missing)
    if isinstance(value, dict):
        return {substitute_text(k, substitutions, missing) if isinstance(k, str) else k:
                substitute(v, substitutions, source, f"{pointer}/{_escape(str(k))}", missing)
                for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, substitutions, source, f"{pointer}/{i}", missing) for i, v in enumerate(value)]
    return value


def _escape(token: str) -> str:
    """RFC 6901 JSON pointer escaping."""
    return token.replace("~", "~0").replace("/", "~1")


def json_pointer(*parts: Any) -> str:
    """The RFC 6901 pointer of ``parts`` (``/`` for none): how every problem says where it is."""
    return "".join("/" + _escape(str(p)) for p in parts) or "/"


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


def _yaml_loader() -> Any:
    """PyYAML's safe loader, plus what templates need: CloudFormation's short tags (``!Sub``,
    ``!GetAtt``, ``!Ref``, ...) become their ``Fn::`` objects, and dates stay strings (ASL has no
    date type: ``Timestamp: 2026-01-01T00:00:00Z`` is a string to Step Functions)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def tag(loader: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix in ("Ref", "Condition"):
            return {suffix: value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", tag)
    Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
    return Loader


def parse_yaml(text: str, source: str) -> Any:
    """YAML text to a value; every way it can fail is an AslValidationError naming the file."""
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise AslValidationError([f"{source}:/: not valid YAML{where}: {exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise AslValidationError([f"{source}:/: not valid YAML: {exc}"]) from None
    except RecursionError:
        from asl_airflow.asl.validation import MAX_NESTING

        raise AslValidationError([f"{source}:/: the definition nests more than {MAX_NESTING} levels deep; "
                                  "flatten it"]) from None


def parse_text(text: str, source: str) -> Any:
    """JSON or YAML by the file name (``.yaml``/``.yml``: YAML)."""
    if source.split("#", 1)[0].lower().endswith(YAML_SUFFIXES):
        return parse_yaml(text, source)
    return parse_json(text, source)


def read_document(path_or_dict: str | Path | dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The raw document and its source name; unreadable or non-JSON input is a validation error."""
    if isinstance(path_or_dict, dict):
        return path_or_dict, "<definition>"
    source = str(path_or_dict)
    document = parse_text(read_text(path_or_dict), source)
    if not isinstance(document, dict):
        raise AslValidationError([f"{source}:/: a state machine definition must be a JSON object"])
    return document, source


def _is_template(document: Any) -> bool:
    return isinstance(document, dict) and isinstance(document.get("Resources"), dict) and "States" not in document


def _parse_substituted(text: str, source: str, substitutions: dict[str, Any], missing: list[str]) -> Any:
    """Substitute in the text, then parse; a parse error names the placeholders left without a value."""
    try:
        return parse_text(substitute_text(text, substitutions, missing), source)
    except AslValidationError as exc:
        if missing:
            names = ", ".join(f"${{{k}}}" for k in missing)
            raise AslValidationError([f"{exc.problems[0]} (placeholders without a substitution: {names})",
                                      *exc.problems[1:]]) from None
        raise


def _resolve(spec: Any, values: dict[str, Any]) -> str | None:
    """A DefinitionSubstitutions value (or a DefinitionString part) as text, when it can be known
    without CloudFormation: literals, and ``Ref``/``Fn::GetAtt``/``Fn::Sub``/``Fn::Join`` of names
    given in ``substitutions`` (``Ref: X`` reads ``X``, ``!GetAtt R.Arn`` reads ``R.Arn``)."""
    if isinstance(spec, str | int | float | bool):
        return _as_text(spec)
    if not isinstance(spec, dict) or len(spec) != 1:
        return None
    (kind, arg), = spec.items()
    if kind == "Ref" and isinstance(arg, str):
        return _as_text(values[arg]) if arg in values else None
    if kind == "Fn::GetAtt":
        name = ".".join(arg) if isinstance(arg, list) and all(isinstance(a, str) for a in arg) else arg
        return _as_text(values[name]) if isinstance(name, str) and name in values else None
    if kind == "Fn::Sub":
        text, local = (arg, {}) if isinstance(arg, str) else (arg + [{}])[:2] if isinstance(arg, list) else (None, {})
        if not isinstance(text, str) or not isinstance(local, dict):
            return None
        scope = dict(values)
        for key, value in local.items():
            resolved = _resolve(value, values)
            if resolved is None:
                return None
            scope[key] = resolved
        missing: list[str] = []
        out = substitute_text(text.replace("${!", "${\0"), scope, missing).replace("${\0", "${")
        return None if missing else out
    if kind == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) \
            and isinstance(arg[1], list):
        parts = [_resolve(part, values) for part in arg[1]]
        return None if any(p is None for p in parts) else arg[0].join(parts)  # type: ignore[arg-type]
    return None


def _from_template(template: dict[str, Any], path: Path, state_machine: str | None,
                   substitutions: dict[str, Any], missing: list[str]) -> tuple[Any, str, str, list[str]]:
    """The state machine ``state_machine`` of a SAM/CloudFormation template: ``(document, source,
    logical id, warnings)``, its DefinitionSubstitutions applied (``substitutions`` win)."""
    source = str(path)
    resources = template["Resources"]
    machines = [k for k, v in resources.items() if isinstance(v, dict) and v.get("Type") in (_SAM, _CFN)]
    if state_machine is None:
        if len(machines) != 1:
            found = ", ".join(machines) or "none"
            raise AslValidationError([f"{source}:/Resources: the template has {len(machines)} state machines "
                                      f"({found}); name one: state_machine=..., or {source}#<name>"])
        state_machine = machines[0]
    if state_machine not in machines:
        raise AslValidationError([f"{source}:/Resources: no state machine {state_machine!r} in the template; "
                                  f"found: {', '.join(machines) or 'none'}"])
    base = f"/Resources/{_escape(state_machine)}/Properties"
    props = resources[state_machine].get("Properties")
    props = props if isinstance(props, dict) else {}
    notes: list[str] = []
    values: dict[str, Any] = {}
    spec = props.get("DefinitionSubstitutions")
    for key, value in (spec.items() if isinstance(spec, dict) else []):
        if key in substitutions:
            continue
        resolved = _resolve(value, {**PSEUDO_PARAMETERS, **substitutions})
        if resolved is None:
            notes.append(f"{source}:{base}/DefinitionSubstitutions/{_escape(key)}: only CloudFormation can resolve "
                         f"{json.dumps(value)}; pass substitutions={{{key!r}: ...}}")
        else:
            values[key] = resolved
    values.update(substitutions)
    if isinstance(props.get("Definition"), dict):
        source = f"{source}#{base}/Definition"
        return substitute(props["Definition"], values, source, missing=missing), source, state_machine, notes
    uri = props.get("DefinitionUri")
    if isinstance(uri, str) and not uri.startswith("s3://"):
        file = path.parent / uri
        return (_parse_substituted(read_text(file), str(file), values, missing), str(file), state_machine, notes)
    text = props.get("DefinitionString")
    if text is not None:
        if isinstance(text, dict) and set(text) == {"Fn::Sub"} and isinstance(text["Fn::Sub"], str):
            text = text["Fn::Sub"]  # its ${} are filled below, with DefinitionSubstitutions
            values = {**PSEUDO_PARAMETERS, **values}  # and the pseudo parameters CloudFormation's Sub knows
        resolved = text if isinstance(text, str) else _resolve(text, values)
        if resolved is None:
            raise AslValidationError([f"{source}:{base}/DefinitionString: only CloudFormation can build this "
                                      "text; put the definition in a file (DefinitionUri) or pass what it "
                                      "references in substitutions"])
        source = f"{source}#{base}/DefinitionString"
        return _parse_substituted(resolved, source, values, missing), source, state_machine, notes
    where = "DefinitionUri" if uri is not None else "DefinitionS3Location" if "DefinitionS3Location" in props else None
    if where:
        raise AslValidationError([f"{source}:{base}/{where}: the definition is in S3; download it and load the "
                                  "file (or point DefinitionUri at a local path)"])
    raise AslValidationError([f"{source}:{base}: the state machine has no Definition, DefinitionUri or "
                              "DefinitionString"])


def load_definition(
    path_or_dict: str | Path | dict[str, Any] | Definition,
    substitutions: dict[str, Any] | None = None,
    source: str | None = None,
    *,
    state_machine: str | None = None,
) -> Definition:
    """Read, substitute and validate a definition; raises AslValidationError listing every problem.

    ``path_or_dict``: an ASL document (dict), a ``.asl.json``/``.asl.yaml`` file, or a SAM or
    CloudFormation template (``state_machine`` names its resource; optional when it has one).
    ``substitutions`` fill ``${Name}`` placeholders (SAM ``DefinitionSubstitutions``); one without a
    value stays as text and raises a :class:`SubstitutionWarning` (also kept in ``warnings``)."""
    if isinstance(path_or_dict, Definition):
        return path_or_dict
    from asl_airflow.asl.validation import check_structure, validate

    values = dict(substitutions or {})
    missing: list[str] = []
    notes: list[str] = []
    label = None
    if isinstance(path_or_dict, dict):
        document, source = path_or_dict, source or "<definition>"
        structure = check_structure(document, source)  # before any recursive step, substitution included
        if structure:
            raise AslValidationError(structure)
        document = substitute(document, values, source, missing=missing)
    else:
        path = Path(path_or_dict)
        base, sep, logical_id = str(path_or_dict).rpartition("#")
        if sep and state_machine is None and not path.exists() and Path(base).is_file():
            path, state_machine = Path(base), logical_id  # ``template.yaml#MyStateMachine`` (the CLI's way)
        text = read_text(path)
        source = source or str(path)
        try:
            raw: Any = parse_text(text, source)
        except AslValidationError:
            if "${" not in text:
                raise
            raw = None  # ``"Seconds": ${Timeout}`` is JSON only once substituted
        if _is_template(raw) or state_machine is not None:
            if not _is_template(raw):
                raise AslValidationError([f"{source}:/: state_machine={state_machine!r} needs a SAM or "
                                          "CloudFormation template (a Resources object)"])
            document, source, label, notes = _from_template(raw, path, state_machine, values, missing)
        else:
            document = _parse_substituted(text, source, values, missing) if "${" in text else raw
    if not isinstance(document, dict):
        raise AslValidationError([f"{source}:/: a state machine definition must be a JSON object"])
    structure = check_structure(document, source)
    if structure:
        raise AslValidationError(structure)
    notes += [f"{source}: ${{{key}}} has no substitution and stays as text (as Step Functions leaves it); pass "
              "it in substitutions" for key in missing]
    for note in notes:
        warnings.warn(note, SubstitutionWarning, stacklevel=2)
    problems = validate(document, source)
    if problems:
        raise AslValidationError(problems)
    return Definition(document, source, label, tuple(notes))
