"""Compiling ASL to Airflow tasks (no DB needed: building a DAG object is pure Python)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from asl_airflow import AslValidationError, asl_dag
from asl_airflow.airflow.operators import (
    AslStateOperator,
    AslTaskOperator,
    execution_name,
    reconnect_delay,
    reconnect_tries,
)
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
    assert "asl" in dag.tags and "/asl-airflow/definitions/ml/diagram.svg" in dag.doc_md


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
    # the ASL MaxAttempts plus the re-runs a worker crash may need, which come after retry_delay
    assert train.retries == 3 + reconnect_tries()
    assert isinstance(train.retry_policy, AslRetryPolicy)
    assert train.retry_delay == timedelta(seconds=reconnect_delay())
    # a state without ASL retries gets only the crash re-runs; its ASL failure is final (AirflowFailException)
    assert dag.get_task("Pipeline_failed").retries == reconnect_tries()
    assert dag.get_task("Pipeline_failed").retry_policy is None


def test_policy_uses_the_delay_the_state_decided():
    policy = AslRetryPolicy()
    decision = policy.evaluate(AslStateFailed("E", "c", retry_delay=4.0, retrier=0), 1, 3)
    assert decision.action.value == "retry" and decision.retry_delay == timedelta(seconds=4)
    assert policy.evaluate(AslStateFailed("E", "c"), 1, 3).action.value == "fail"
    # not an ASL error (infrastructure): Airflow's own retry re-runs the same ASL attempt
    assert policy.evaluate(ValueError("x"), 1, 3).action.value == "default"


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


PARALLEL_MAP_LOOP = {
    "StartAt": "Fan out",
    "States": {
        "Fan out": {"Type": "Parallel", "Next": "Each", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "C"}, "C": {"Type": "Succeed"}}},
        ]},
        "Each": {"Type": "Map", "MaxConcurrency": 3, "Next": "Poll", "ItemProcessor": {
            "StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}}},
        "Poll": {"Type": "Wait", "Seconds": 5, "Next": "Done?"},
        "Done?": {"Type": "Choice", "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "End"}],
                  "Default": "Poll"},
        "End": {"Type": "Succeed"},
    },
}


def test_parallel_is_a_task_group_per_branch_between_an_entry_and_a_join():
    dag = asl_dag(PARALLEL_MAP_LOOP, dag_id="x")
    group = dag.task_group.children["Fan_out"]
    assert set(group.children) == {"Fan_out.start", "Fan_out.branch_1", "Fan_out.branch_2", "Fan_out.join"}
    assert dag.get_task("Fan_out.start").downstream_task_ids == {"Fan_out.branch_1.A", "Fan_out.branch_2.B"}
    join = dag.get_task("Fan_out.join")
    assert join.upstream_task_ids == {"Fan_out.branch_1.A", "Fan_out.branch_2.B", "Fan_out.branch_2.C"}
    assert join.trigger_rule == "all_done"
    assert dag.get_task("Fan_out.start").task_display_name == "Fan out"
    assert dag.get_task("Fan_out.branch_2.C").nested


def test_map_items_are_a_mapped_task_group_with_max_concurrency():
    from airflow.sdk.definitions.taskgroup import MappedTaskGroup

    dag = asl_dag(PARALLEL_MAP_LOOP, dag_id="x")
    items = dag.task_group.children["Each"].children["Each.items"]
    assert isinstance(items, MappedTaskGroup)
    item = dag.get_task("Each.items.Item")
    assert item.max_active_tis_per_dagrun == 3
    assert dag.get_task("Each.join").upstream_task_ids == {"Each.items.Item"}
    assert dag.get_task("Fan_out.join").downstream_task_ids == {"Each.start"}


def test_a_loop_is_one_region_task():
    from asl_airflow.airflow.composite import AslRegionOperator

    dag = asl_dag(PARALLEL_MAP_LOOP, dag_id="x")
    region = dag.get_task("Poll_loop")
    assert isinstance(region, AslRegionOperator)
    assert region.members == ["Poll", "Done?"]
    assert region.task_display_name == "loop: Poll → Done?"
    assert dag.get_task("Each.join").downstream_task_ids == {"Poll_loop"}
    assert region.downstream_task_ids == {"End"}


def test_parallel_with_retry_and_map_inside_map_run_as_one_region_task():
    from asl_airflow.airflow.composite import AslRegionOperator

    def inner(name: str) -> dict:  # state names are unique in the whole machine
        return {"StartAt": name, "States": {name: {"Type": "Pass", "End": True}}}

    machine = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Retry": [{"ErrorEquals": ["States.ALL"]}], "Branches": [inner("I")], "Next": "M"},
        "M": {"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "Inner", "States": {
            "Inner": {"Type": "Map", "ItemProcessor": inner("J"), "End": True}}}},
    }}
    dag = asl_dag(machine, dag_id="x")
    assert isinstance(dag.get_task("P"), AslRegionOperator)
    assert isinstance(dag.get_task("M.items.Inner"), AslRegionOperator)


@pytest.mark.parametrize("timeout,expected", [
    ("{% 5 %}", None),  # JSONata: evaluated per run (states.task_timeouts), not at parse
    (99_999_999, timedelta(seconds=99_999_999)),  # AWS's largest compiles
    (30, timedelta(seconds=30)),
])
def test_task_timeout_seconds_compiles_whatever_its_form(timeout, expected):
    machine = {"QueryLanguage": "JSONata", "StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Arguments": {"FunctionName": "f"},
        "TimeoutSeconds": timeout, "End": True,
        "Retry": [{"ErrorEquals": [f"E{i}"], "MaxAttempts": 99_999_999} for i in range(30)]}}}
    task = asl_dag(machine, dag_id="x").get_task("T")
    assert task.execution_timeout == expected
    assert task.retries <= 2**31 - 2  # the metadata DB keeps tries in a 32-bit column
