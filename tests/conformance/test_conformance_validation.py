"""Validation against AWS: what CreateStateMachine rejected we reject (at the place AWS names),
and every corpus template AWS ran validates with no problem."""

from __future__ import annotations

import re

import asl_corpus as corpus
import pytest
from asl_airflow.asl.validation import validate

pytestmark = pytest.mark.conformance

REJECTED = corpus.rejected_definitions() if corpus.available() else []
ACCEPTED = corpus.accepted_templates() if corpus.available() else []


@pytest.mark.parametrize("ident,definition,message", REJECTED, ids=[r[0] for r in REJECTED])
def test_rejected_by_aws_is_rejected(ident: str, definition: dict, message: str, corpus_available: None) -> None:
    problems = validate(definition, "corpus.json")
    assert problems, f"AWS rejected this definition ({message}) but validation found nothing"
    where = re.search(r" at (/[^']*)'", message)
    if where:
        pointers = [p.split(":", 2)[1] for p in problems]
        assert any(p == where.group(1) or p.startswith(where.group(1) + "/") for p in pointers), (
            f"AWS points at {where.group(1)}; we report {problems}"
        )
    corpus.COUNTS["validation_rejected"] += 1


@pytest.mark.parametrize("ident,definition", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted_by_aws_validates(ident: str, definition: dict, corpus_available: None) -> None:
    assert validate(definition, "corpus.json") == []
    corpus.COUNTS["validation_accepted"] += 1
