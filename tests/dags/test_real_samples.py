"""Real public state machines (``../shared/asl-samples``: AWS's documentation samples and the
step-functions-workflows-collection, see its SOURCES.md) compile to DAGs as teams keep them.

``${...}`` placeholders are SAM DefinitionSubstitutions: given values, as a team's deployment
gives them, every valid sample compiles; without values, a placeholder Resource is refused with
the file, the pointer and what to pass. The one sample that is invalid on purpose is refused with
its pointers, never a traceback.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from asl_airflow import asl_dag
from asl_airflow.asl.errors import AslValidationError

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "asl-samples"
INVALID = {"sfnwc_shared_fallback_jsonata.asl.json": "/States/QueryLanguage"}  # SOURCES.md: invalid on purpose


def _samples() -> list[Path]:
    return sorted(SAMPLES.glob("*.asl.json")) if SAMPLES.is_dir() else []


def _substitutions(path: Path) -> dict[str, str]:
    """A value for every placeholder: the partition, and a Lambda ARN for the rest (functions, jobs)."""
    names = set(re.findall(r"\$\{([^}]+)\}", path.read_text(encoding="utf-8")))
    return {name: "aws" if name == "partition" else f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
            for name in names}


@pytest.mark.skipif(not _samples(), reason=f"no samples at {SAMPLES}")
@pytest.mark.parametrize("path", _samples(), ids=lambda p: p.name)
def test_every_sample_compiles_with_its_substitutions(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unmatched placeholders outside Resources warn, as on AWS
        if path.name in INVALID:
            with pytest.raises(AslValidationError) as info:
                asl_dag(path, dag_id="sample", substitutions=_substitutions(path))
            assert any(f"{path}:{INVALID[path.name]}" in p for p in info.value.problems), info.value.problems
            return
        dag = asl_dag(path, dag_id="sample", substitutions=_substitutions(path))
    assert dag.tasks


@pytest.mark.skipif(not _samples(), reason=f"no samples at {SAMPLES}")
def test_a_placeholder_resource_without_a_value_says_what_to_pass() -> None:
    path = SAMPLES / "sfnwc_explicit_failure_parallel.asl.json"
    with pytest.raises(AslValidationError) as info:
        asl_dag(path, dag_id="sample")
    assert any(f"{path}:/States/Parallel/Branches/0/States/success state/Resource" in p
               and "substitutions={'getSuccessFunctionArn'" in p for p in info.value.problems), info.value.problems
