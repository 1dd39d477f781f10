"""Every AWS-validated execution of a pure corpus template, run on the local engine.

Status, output (snapshot redactions are wildcards), error and the sequence of history event types
must match what AWS recorded. Waits use a no-op sleep (the history is unchanged); a recording that
ended while AWS still waited is reproduced by aborting at the first wait.
"""

from __future__ import annotations

import asl_corpus as corpus
import pytest
from asl_airflow.asl import Interpreter
from asl_airflow.asl.errors import ExecutionAborted

pytestmark = pytest.mark.conformance

CASES = corpus.executions() if corpus.available() else []
EXCEPTIONS = corpus.load_exceptions() if corpus.available() else {}


def _no_sleep(seconds: float) -> None:
    return None


def _abort(seconds: float) -> None:
    raise ExecutionAborted()


def run(case: corpus.CaseExecution) -> dict:
    sleep = _abort if corpus.wants_abort(case) else _no_sleep
    return Interpreter(case.definition, sleep=sleep).execute(case.input).as_dict(with_history=True)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_execution_agrees_with_aws(case: corpus.CaseExecution, corpus_available: None) -> None:
    problems = corpus.compare(case, run(case))
    if case.id in EXCEPTIONS:
        assert problems, f"{case.id} now agrees with AWS: remove it from tests/conformance/exceptions.json"
        corpus.COUNTS["exceptions"] += 1
        return
    assert not problems, "\n".join(problems)
    corpus.COUNTS["agreeing"] += 1


def test_exceptions_name_real_cases(corpus_available: None) -> None:
    ids = {c.id for c in CASES}
    unknown = sorted(set(EXCEPTIONS) - ids)
    assert not unknown, f"exceptions.json lists cases the corpus does not have: {unknown}"
