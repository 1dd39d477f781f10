"""The README's table of every Step Functions optimized integration says what is served, and that is
what the parse-time catalog (``integrations/catalog.py`` ``SUPPORTED``) serves: no row claims a
Resource or pattern the catalog refuses, no catalog entry is missing from the table, and every row
answers as the DAG parse does (served patterns pass ``catalog.problem``, the rest are refused)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from asl_airflow.asl.definition import load_definition
from asl_airflow.integrations.catalog import SUPPORTED, problem

README = Path(__file__).resolve().parents[3] / "README.md"
HEADING = "### Every optimized integration, and what is served"
PATTERNS = {"RR": "", ".sync": ".sync", ".sync:2": ".sync", ".waitForTaskToken": ".waitForTaskToken"}
#: the rows whose Resource is not ``arn:aws:states:::<service>:<action>``: catalog key, example ARN
SPECIAL = {
    "aws-sdk:": (("aws-sdk", "*"), "arn:aws:states:::aws-sdk:s3:listBuckets"),
    "arn:aws:lambda:": (("lambda", "arn"), "arn:aws:lambda:us-east-1:123456789012:function:f"),
    ":activity:": (("activity", "*"), "arn:aws:states:us-east-1:123456789012:activity:resize"),
}


def _patterns(cell: str) -> dict[str, str]:
    """``RR, `.sync` (a note)`` -> {"RR": "", ".sync": ".sync"}; ``not yet`` -> {}."""
    cell = re.sub(r"\([^)]*\)", "", cell).replace("`", "").strip()
    if cell == "not yet":
        return {}
    words = [word.strip() for word in cell.split(",")]
    unknown = [word for word in words if word not in PATTERNS]
    assert not unknown, f"unknown pattern(s) {unknown} in README cell {cell!r}"
    return {word: PATTERNS[word] for word in words}


def _rows() -> list[tuple[str, tuple[str, str], str, dict[str, str], dict[str, str]]]:
    """(resource cell, catalog key, example ARN, AWS patterns, served patterns) per table row."""
    text = README.read_text(encoding="utf-8")
    assert HEADING in text, f"README.md has no {HEADING!r} section"
    section = text.split(HEADING, 1)[1]
    section = re.split(r"^#{1,3} ", section, maxsplit=1, flags=re.MULTILINE)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or cells[0] in ("Service", "---"):
            continue
        assert len(cells) == 4, f"README row does not have 4 cells: {line!r}"
        resource = re.search(r"`([^`]+)`", cells[1]).group(1)
        special = next((value for marker, value in SPECIAL.items() if marker in resource), None)
        if special:
            key, example = special
        else:
            service, _, action = resource.partition(":")
            key, example = (service, action), f"arn:aws:states:::{resource}"
        rows.append((resource, key, example, _patterns(cells[2]), _patterns(cells[3])))
    return rows


ROWS = _rows()


def test_the_table_lists_every_integration_once() -> None:
    keys = [key for _, key, *_ in ROWS]
    assert len(keys) == len(set(keys)), "a Resource appears twice in the README table"
    assert len(ROWS) >= 60  # AWS documents about 70 optimized Resources; a parse that found few is broken


def test_the_table_serves_exactly_the_catalog() -> None:
    served = {key: frozenset(patterns.values()) for _, key, _, _, patterns in ROWS if patterns}
    missing = sorted(set(SUPPORTED) - {key for _, key, *_ in ROWS})
    assert not missing, f"catalog entries with no README row: {missing}"
    wrong = {key: (sorted(served.get(key, ())), sorted(SUPPORTED.get(key, ())))
             for key in set(served) | set(SUPPORTED) if served.get(key, frozenset()) != SUPPORTED.get(key)}
    assert not wrong, ("README 'asl-airflow' column (served) differs from catalog.SUPPORTED "
                       f"(key: (README, catalog)); flip the row or the catalog: {wrong}")


@pytest.mark.parametrize("resource,key,example,aws,served", ROWS, ids=[row[0] for row in ROWS])
def test_each_row_answers_as_the_dag_parse(resource: str, key: tuple[str, str], example: str,
                                           aws: dict[str, str], served: dict[str, str]) -> None:
    assert set(served) <= set(aws), f"{resource}: serves a pattern AWS does not have"
    for word in aws:
        suffix = "" if word == "RR" else word
        reason = problem(example + suffix)
        if word in served:
            assert reason is None, f"README says {resource} {word} is served; the catalog says: {reason}"
        else:
            assert reason, f"README says {resource} {word} is not yet served; the catalog accepts it"


def test_a_resource_not_yet_served_is_refused_at_dag_parse_with_its_pointer() -> None:
    from asl_airflow.airflow.compiler import check_compilable
    from asl_airflow.asl import AslValidationError

    # (a row the catalog serves after all is test_each_row_answers_as_the_dag_parse's to report)
    not_yet = [resource for resource, key, example, _, served in ROWS
               if not served and key[1] != "*" and not resource.startswith("arn:") and problem(example)]
    assert not_yet
    states = {f"S{i}": {"Type": "Task", "Resource": f"arn:aws:states:::{resource}", "Next": f"S{i + 1}"}
              for i, resource in enumerate(not_yet)}
    states[f"S{len(not_yet) - 1}"] = {**states[f"S{len(not_yet) - 1}"], "End": True}
    del states[f"S{len(not_yet) - 1}"]["Next"]
    definition = load_definition({"StartAt": "S0", "States": states}, source="m.asl.json")
    with pytest.raises(AslValidationError) as info:
        check_compilable(definition)
    text = str(info.value)
    for i, resource in enumerate(not_yet):
        assert f"m.asl.json:/States/S{i}/Resource: " in text and resource in text
