"""DAG integrity, in the Astro spirit: every file in dags/ imports cleanly, fast, and light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))
HEAVY = ("great_expectations", "sagemaker", "pandas")


def test_dagbag_has_no_import_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert "ml_training" in bag.dags
    for dag in bag.dags.values():
        assert dag.tags, f"{dag.dag_id} has no tags"
        assert dag.doc_md, f"{dag.dag_id} has no doc_md"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_nothing_heavy(path):
    """Parse each file in a fresh interpreter after Airflow is imported: no heavy import at parse time.

    Parse *time* is measured by ``bench/parse.py`` against a hand-written baseline, not asserted here
    (a loaded CI machine would make a wall-clock bound flaky)."""
    probe = (
        "import json, sys, time, runpy\n"
        "import airflow.sdk\n"
        "t = time.perf_counter()\n"
        f"runpy.run_path({str(path)!r})\n"
        "elapsed = time.perf_counter() - t\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(json.dumps({'seconds': elapsed, 'heavy': heavy}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["heavy"] == [], f"{path.name} imports {report['heavy']} at parse time"


def test_broken_definition_is_one_import_error_naming_file_and_pointer(tmp_path):
    """A bad definition fails its own DAG file only, with the file and JSON pointer in the error."""
    from airflow.dag_processing.dagbag import DagBag

    (tmp_path / "bad.asl.json").write_text(json.dumps(
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}))
    (tmp_path / "bad.py").write_text(
        "from pathlib import Path\nfrom asl_airflow import asl_dag\n"
        "dag = asl_dag(Path(__file__).with_name('bad.asl.json'), dag_id='bad')\n")
    (tmp_path / "good.py").write_text(
        "from asl_airflow import asl_dag\n"
        "dag = asl_dag({'StartAt': 'A', 'States': {'A': {'Type': 'Pass', 'End': True}}}, dag_id='good')\n")
    bag = DagBag(dag_folder=str(tmp_path))
    assert list(bag.dags) == ["good"]
    (path, message), = bag.import_errors.items()
    assert path.endswith("bad.py")
    assert "bad.asl.json:/States/A/Next" in message
