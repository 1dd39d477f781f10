"""The ML training DAG end to end: local stack, real Airflow (dag.test), SageMaker on moto."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from asl_airflow import devstack


def _dags_test(stack, tmp_path, dag_id: str, conf: dict | None = None) -> dict:
    env = {**os.environ, **stack.env(), **devstack.airflow_env(tmp_path / "home")}
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = subprocess.run(
        [sys.executable, "-m", "asl_airflow.cli", "_dags-test", dag_id, "--json",
         "--input", json.dumps(conf or {})],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.stdout.strip(), proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_ml_training_runs_end_to_end(local_stack, tmp_path):
    result = _dags_test(local_stack, tmp_path, "ml_training")
    assert result["status"] == "SUCCEEDED", (result["error"], result["cause"])
    states = {s["state"]: s["status"] for s in result["states"]}
    assert states == {
        "Generate dataset": "success",
        "Train model (XGBoost)": "success",
        "Save Model": "success",
        "Batch transform": "success",
        "Pipeline failed": "skipped",
    }
    output = result["output"]
    assert output["TransformJobStatus"] == "Completed"
    assert output["TransformOutput"]["S3OutputPath"] == "s3://asl-airflow-ml/output"
    # the training job was named after $$.Execution.Name, and the transform used the same name
    assert output["TransformJobName"] == output["ModelName"]
    types = [e["type"] for e in result["history"]]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert types[1:4] == ["TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted"]
    assert types.count("TaskStateEntered") == 4 and types.count("TaskSucceeded") == 3
    assert any("S3ModelArtifacts" in line for _, line in result["artifacts"])
