"""Compiling ASL to Airflow tasks (no DB needed: building a DAG object is pure Python)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from asl_airflow import AslValidationError, asl_dag
from asl_airflow.airflow.operators import AslStateOperator, AslTaskOperator, execution_name
from asl_airflow.airflow.retry_policy import AslRetryPolicy, AslStateFailed

ML = Path(__file__).resolve().parents[3] / "include" / "asl" / "ml_training.asl.json"
SUBST = {
    "partition": "aws", "DataGenerationJobArn": "arn:aws:lambda:us-east-1:123456789012:function:gen",
    "regionalTrainingImage": "img", "trainmlmodelbucket": "b",
    "SagemakerAPIExecutionRole": "arn:aws:iam::123456789012:role/r",
}


def test_one_task_per_state_with_state_names_as_display_names():
    dag = asl_dag(ML, dag_id="ml", substitutions=SUBST)
    names = {t.task_id: t.task_display_name for t in dag.tasks}
    assert names == {
        "Generate_dataset": "Generate dataset",
        "Train_model_XGBoost": "Train model (XGBoost)",
        "Save_Model": "Save Model",
        "Batch_transform": "Batch transform",
        "Pipeline_failed": "Pipeline failed",
    }
    assert all(isinstance(t, AslStateOperator) for t in dag.tasks)
    assert "asl" in dag.tags and "mermaid" in dag.doc_md


def test_graph_mirrors_the_state_machine():
    dag = asl_dag(ML, dag_id="ml", substitutions=SUBST)
    train = dag.get_task("Train_model_XGBoost")
    assert train.downstream_task_ids == {"Save_Model", "Pipeline_failed"}
    fail = dag.get_task("Pipeline_failed")
    assert fail.upstream_task_ids == {"Generate_dataset", "Train_model_XGBoost", "Save_Model", "Batch_transform"}
    assert fail.trigger_rule == "none_failed_min_one_success"
    # Save Model is reachable only from training: training skips it itself when it does not choose it
    assert train.exclusive_successors == ["Save_Model"]


def test_retry_is_native_airflow_retries_with_the_asl_policy():
    dag = asl_dag(ML, dag_id="ml", substitutions=SUBST)
    train = dag.get_task("Train_model_XGBoost")
    assert isinstance(train, AslTaskOperator)
    assert train.retries == 3
    assert isinstance(train.retry_policy, AslRetryPolicy)
    assert dag.get_task("Pipeline_failed").retries == 0


def test_policy_uses_the_delay_the_state_decided():
    policy = AslRetryPolicy()
    decision = policy.evaluate(AslStateFailed("E", "c", retry_delay=4.0, retrier=0), 1, 3)
    assert decision.action.value == "retry" and decision.retry_delay == timedelta(seconds=4)
    assert policy.evaluate(AslStateFailed("E", "c"), 1, 3).action.value == "fail"
    assert policy.evaluate(ValueError("x"), 1, 3).action.value == "fail"


def test_no_runtime_data_in_template_fields():
    dag = asl_dag(ML, dag_id="ml", substitutions=SUBST)
    assert all(t.template_fields == () for t in dag.tasks)


def test_execution_name_is_valid_for_step_functions_and_sagemaker():
    assert execution_name("nightly-2026-11-25", "d") == "nightly-2026-11-25"
    name = execution_name("manual__2026-11-25T00:00:00+00:00", "d")
    assert name == execution_name("manual__2026-11-25T00:00:00+00:00", "d")
    assert len(name) == 36 and name.replace("-", "").isalnum()


def test_unsupported_resource_is_reported_with_file_and_pointer():
    with pytest.raises(AslValidationError) as info:
        asl_dag({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::nope:x",
                                                   "End": True}}}, dag_id="x")
    assert "<definition>:/States/T/Resource" in info.value.problems[0]
