"""``asl-airflow compile``: the standalone DAG file builds the same DAG as the definition."""

from __future__ import annotations

import json
import subprocess
import sys

from asl_airflow import asl_dag
from test_compiler import PARALLEL_MAP_LOOP


def test_compiled_file_is_a_dag_with_the_same_tasks(tmp_path):
    source = tmp_path / "machine.asl.json"
    source.write_text(json.dumps({**PARALLEL_MAP_LOOP, "Comment": 'Fan out, then poll """ safely'}))
    out = tmp_path / "migrated.py"
    proc = subprocess.run(
        [sys.executable, "-m", "asl_airflow.cli", "compile", str(source), "--dag-id", "migrated", "-o", str(out),
         "--schedule", "@daily", "--tag", "team:data"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "loop: Poll → Done?" in text and "flowchart TD" in text
    namespace: dict = {}
    exec(compile(text, str(out), "exec"), namespace)  # noqa: S102 - the file we just generated
    dag = namespace["dag"]
    expected = asl_dag(PARALLEL_MAP_LOOP, dag_id="expected")
    assert dag.dag_id == "migrated"
    assert sorted(dag.task_ids) == sorted(expected.task_ids)
    assert "team:data" in dag.tags
    assert {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks} == \
        {t.task_id: sorted(t.upstream_task_ids) for t in expected.tasks}


def test_compile_reports_a_bad_definition_with_its_pointer(tmp_path):
    source = tmp_path / "bad.asl.json"
    source.write_text(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}))
    proc = subprocess.run([sys.executable, "-m", "asl_airflow.cli", "compile", str(source), "--dag-id", "x"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"{source}:/States/A/Next" in proc.stderr
