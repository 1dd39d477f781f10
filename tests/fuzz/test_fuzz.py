"""A bounded fuzz pass inside the normal test run (``make test``); ``make fuzz`` runs the longer one.

Fixed seed and case count, so the same cases run every time (the first 400 of seed 1, about a
minute): ``FUZZ_CASES`` changes the count, ``FUZZ_SECONDS`` bounds the time instead, ``FUZZ_SEED``
picks another sequence. Every finding is written to
``.local/fuzz-findings/`` with the case, and replays with ``python tests/fuzz/fuzzer.py --replay FILE``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzzer  # noqa: E402 - a script beside this test, not a package

pytestmark = pytest.mark.fuzz


def test_fuzz_finds_nothing():
    # by default the first 400 cases of seed 1 (about a minute), so that CI runs the same cases
    # however busy its machine is; FUZZ_SECONDS alone turns it into a time-bounded run
    cases = int(os.environ.get("FUZZ_CASES") or 0) or (None if os.environ.get("FUZZ_SECONDS") else 400)
    seconds = float(os.environ.get("FUZZ_SECONDS") or 600)
    report = fuzzer.fuzz(seconds=seconds, max_cases=cases,
                         seed=int(os.environ.get("FUZZ_SEED") or 1), workers=int(os.environ.get("FUZZ_WORKERS") or 2))
    print("\n" + report.summary())
    assert report.cases > 0, "the fuzzer ran no case"
    assert not report.findings, report.summary()


def test_mutations_are_deterministic():
    definitions, inputs, _ = fuzzer.seeds()
    assert definitions, "no seed definition (include/asl is part of the checkout)"
    first = [fuzzer.make_case(7, index, definitions, inputs) for index in range(20)]
    again = [fuzzer.make_case(7, index, definitions, inputs) for index in range(20)]
    assert first == again


def test_a_finding_is_reported_with_its_case():
    """The fuzzer itself can fail: a case whose run raises an undocumented exception is a finding."""
    case = {"index": 0, "definition": {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}}}, "input": {}}

    class Broken(fuzzer.FakeService):
        def __call__(self, *args):
            raise KeyError("the service blew up")

    original = sys.modules.get("asl_airflow.integrations.invoker")
    fake = type(sys)("asl_airflow.integrations.invoker")
    fake.LocalInvoker = Broken
    sys.modules["asl_airflow.integrations.invoker"] = fake
    try:
        answer = fuzzer.run_case(case)
    finally:
        if original is not None:
            sys.modules["asl_airflow.integrations.invoker"] = original
        else:
            sys.modules.pop("asl_airflow.integrations.invoker", None)
    assert answer["finding"] == "exception" and "KeyError" in answer["detail"]
