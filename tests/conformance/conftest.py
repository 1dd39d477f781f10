"""Conformance suite plumbing: locate the corpus, count agreements and listed exceptions."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asl_corpus as corpus  # noqa: E402

COUNTS = corpus.COUNTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    airflow_lines = sys.modules["airflow_engine"].summary_lines() if "airflow_engine" in sys.modules else []
    if airflow_lines:
        terminalreporter.write_sep("-", "ASL equivalence: the Airflow engine (compiled DAGs, dag.test())")
        for line in airflow_lines:
            terminalreporter.write_line(line)
    if not any(COUNTS.values()):
        return
    terminalreporter.write_sep("-", "ASL conformance (LocalStack corpus, AWS-validated recordings)")
    terminalreporter.write_line(
        f"executions agreeing with AWS: {COUNTS['agreeing']}; listed exceptions: {COUNTS['exceptions']} "
        f"(tests/conformance/exceptions.json)"
    )
    terminalreporter.write_line(
        f"definitions AWS rejected that validation rejects: {COUNTS['validation_rejected']}; "
        f"templates AWS ran that validate cleanly: {COUNTS['validation_accepted']}"
    )


@pytest.fixture(scope="session")
def corpus_available() -> None:
    if not corpus.available():
        pytest.skip(f"the ASL corpus is not at {corpus.CORPUS} (expected ../shared/asl-corpus next to the repo)")
