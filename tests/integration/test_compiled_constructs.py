"""Parallel, Map, loops and every other state type compiled to Airflow, against the reference interpreter.

Also the safety rules that apply to every state type: runtime data is never rendered by Jinja, and a
payload over 256 KiB fails with States.DataLimitExceeded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import asl_airflow
import pytest

JINJA = "{{ conn.aws_default.password }} {{ var.value.x }}"

EVERY_STATE = {
    "Comment": "every state type, with runtime data that looks like Jinja",
    "StartAt": "Start",
    "States": {
        "Start": {"Type": "Pass", "Parameters": {"note.$": "$.note", "items.$": "$.items", "n": 0}, "Next": "Both"},
        "Both": {
            "Type": "Parallel",
            "ResultPath": "$.both",
            "Next": "Each",
            "Branches": [
                {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "InputPath": "$.note", "End": True}}},
                {"StartAt": "Nap", "States": {
                    "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Late"},
                    "Late": {"Type": "Pass", "Result": "{{ ds }}", "End": True},
                }},
            ],
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 2,
            "ItemSelector": {"value.$": "$$.Map.Item.Value", "note.$": "$.note"},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Kind",
                "States": {
                    "Kind": {"Type": "Choice", "Default": "Other",
                             "Choices": [{"Variable": "$.value", "StringEquals": "fail", "Next": "Boom"}]},
                    "Other": {"Type": "Pass", "Parameters": {"got.$": "$.value", "note.$": "$.note"}, "End": True},
                    "Boom": {"Type": "Fail", "Error": "Item.Failed", "Cause": "{{ var.value.x }}"},
                },
            },
            "Catch": [{"ErrorEquals": ["Item.Failed"], "ResultPath": "$.each", "Next": "Count"}],
            "ResultPath": "$.each",
            "Next": "Count",
        },
        "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)", "note.$": "$.note",
                                                    "each.$": "$.each", "both.$": "$.both"}, "Next": "Again?"},
        "Again?": {"Type": "Choice", "Default": "Done",
                   "Choices": [{"Variable": "$.n", "NumericLessThan": 3, "Next": "Breathe"}]},
        "Breathe": {"Type": "Wait", "Seconds": 1, "Next": "Count"},
        "Done": {"Type": "Succeed"},
    },
}


def _types(result: dict) -> list[str]:
    return [e["type"] for e in result["history"]]


def test_every_state_type_matches_the_reference_interpreter_and_jinja_stays_text():
    data = {"note": JINJA, "items": ["a", JINJA, "b"]}
    local = asl_airflow.run(EVERY_STATE, data, engine="local", history=True)
    on_airflow = asl_airflow.run(EVERY_STATE, data, engine="airflow", history=True)
    assert local["status"] == "SUCCEEDED", local
    assert on_airflow["status"] == "SUCCEEDED", on_airflow
    assert on_airflow["output"] == local["output"]
    assert _types(on_airflow) == _types(local)
    out = on_airflow["output"]
    assert out["note"] == JINJA and out["both"] == [JINJA, "{{ ds }}"]
    assert out["each"][1] == {"got": JINJA, "note": JINJA}
    assert out["n"] == 3  # the loop ran three times, as one region task


def test_a_failing_map_item_is_caught_like_on_step_functions():
    data = {"note": "x", "items": ["a", "fail"]}
    local = asl_airflow.run(EVERY_STATE, data, engine="local", history=True)
    on_airflow = asl_airflow.run(EVERY_STATE, data, engine="airflow", history=True)
    assert on_airflow["status"] == local["status"] == "SUCCEEDED"
    assert on_airflow["output"] == local["output"]
    assert _types(on_airflow) == _types(local)
    assert "MapIterationFailed" in _types(on_airflow)


def test_payload_over_256_kib_fails_with_data_limit_exceeded():
    machine = {"StartAt": "Double", "States": {
        "Double": {"Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "End": True}}}
    result = asl_airflow.run(machine, {"s": "x" * 150_000}, engine="airflow")
    assert result["status"] == "FAILED"
    assert result["error"] == "States.DataLimitExceeded"


_PROBE = textwrap.dedent("""
    import json, sys, time
    import airflow.sdk.definitions.dag as dag_module
    from asl_airflow.airflow.testing import load_dag

    deferrals = []
    run_inline = dag_module._run_inline_trigger

    def watched(trigger, ti):
        # dag.test() calls this only after the task's own run ended with a DeferTask: from here
        # until the trigger fires, no task code runs (under a scheduler: no worker slot is held)
        started = time.monotonic()
        event = run_inline(trigger, ti)
        deferrals.append({"task_id": ti.task_id, "trigger": type(trigger).__name__,
                          "seconds": round(time.monotonic() - started, 2)})
        return event

    dag_module._run_inline_trigger = watched
    run = load_dag("probe").test(run_conf=json.loads(sys.argv[1]))
    print(json.dumps({"state": str(run.state), "deferrals": deferrals}))
""")


def run_watching_deferrals(machine: dict, conf: dict, tmp_path: Path, extra_env: dict | None = None) -> dict:
    """Run the compiled machine with dag.test() and record each deferral: which task deferred, on
    which trigger, and for how long the trigger (not the task) waited."""
    from asl_airflow.devstack import airflow_env
    from asl_airflow.runner import _template_db

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "probe.asl.json").write_text(json.dumps(machine))
    (dags / "probe.py").write_text("from pathlib import Path\nfrom asl_airflow import asl_dag\n\n"
                                   "dag = asl_dag(Path(__file__).with_name('probe.asl.json'), dag_id='probe')\n")
    env = {**os.environ, **airflow_env(tmp_path), **(extra_env or {})}
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
    shutil.copy(_template_db(env), tmp_path / "airflow.db")
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(conf)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_waits_hold_no_worker_slot(tmp_path):
    machine = {"StartAt": "Pause", "States": {
        "Pause": {"Type": "Wait", "Seconds": 2, "Next": "Poll"},
        "Poll": {"Type": "Wait", "Seconds": 1, "Next": "Ready?"},
        "Ready?": {"Type": "Choice", "Default": "Poll",
                   "Choices": [{"Variable": "$.ready", "IsPresent": False, "Next": "Done"}]},
        "Done": {"Type": "Succeed"},
    }}
    report = run_watching_deferrals(machine, {}, tmp_path)
    assert report["state"] == "success"
    # the Wait state's task and the loop's region task (at its Wait) deferred on a DateTimeTrigger
    # and the time passed in the trigger
    waited = {d["task_id"]: d for d in report["deferrals"]}
    assert set(waited) == {"Pause", "Poll_loop"}, report
    assert all(d["trigger"] == "DateTimeTrigger" for d in waited.values())
    assert waited["Pause"]["seconds"] >= 1.5 and waited["Poll_loop"]["seconds"] >= 0.5


def _transition(stack, path: str, body: dict) -> None:
    import urllib.request

    request = urllib.request.Request(f"{stack.endpoint}/moto-api/state-manager/{path}", method="POST",
                                      data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).close()


@pytest.fixture
def glue_jobs_take_time(stack_env):
    """Glue job runs that take time while the test runs; other tests on the shared stack get moto's
    default (SUCCEEDED at once) back afterwards."""
    yield lambda seconds: _slow_glue_job(stack_env, seconds)
    _transition(stack_env, "unset-transition", {"model_name": "glue::job_run"})


def _slow_glue_job(stack, seconds: int) -> str:
    """A Glue job whose runs take ``seconds`` on the local endpoint (moto's state manager)."""
    import uuid

    glue = stack.client("glue")
    job = f"asl-deferral-{uuid.uuid4().hex[:8]}"
    glue.create_job(Name=job, Role="arn:aws:iam::123456789012:role/asl-airflow-sagemaker",
                    Command={"Name": "glueetl", "ScriptLocation": "s3://asl-airflow-ml/x.py"})
    _transition(stack, "set-transition", {"model_name": "glue::job_run",
                                          "transition": {"progression": "time", "seconds": seconds}})
    return job


def test_a_sync_job_holds_no_worker_slot(stack_env, glue_jobs_take_time, tmp_path):
    """The .sync Task defers on the provider's trigger while the job runs, then finishes."""
    job = glue_jobs_take_time(3)
    machine = {"StartAt": "Run job", "States": {"Run job": {
        "Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
        "Parameters": {"JobName.$": "$.job"}, "End": True}}}
    report = run_watching_deferrals(machine, {"job": job}, tmp_path, stack_env.env())
    assert report["state"] == "success", report
    (deferral,) = report["deferrals"]
    assert deferral["task_id"] == "Run_job"
    assert deferral["trigger"] == "GlueJobCompleteTrigger"
    assert deferral["seconds"] >= 1.0


def test_timeout_seconds_covers_the_deferred_job(stack_env, glue_jobs_take_time):
    """TimeoutSeconds counts the time AWS works (the trigger's timeout): States.Timeout, then Catch."""
    job = glue_jobs_take_time(60)
    machine = {"StartAt": "Run job", "States": {
        "Run job": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                    "Parameters": {"JobName.$": "$.job"}, "TimeoutSeconds": 3,
                    "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Too slow"}],
                    "End": True},
        "Too slow": {"Type": "Pass", "End": True}}}
    result = asl_airflow.run(machine, {"job": job}, engine="airflow")
    assert result["status"] == "SUCCEEDED", result
    assert result["output"]["error"]["Error"] == "States.Timeout"


def test_more_items_than_max_map_length_run_in_lanes(monkeypatch):
    """With ``[core] max_map_length`` at 4, ten items run as 4 mapped lanes of up to 3 items each,
    and the result is still exactly the reference interpreter's."""
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "4")
    machine = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "End": True, "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "Square", "States": {
            "Square": {"Type": "Pass", "Parameters": {"n.$": "$", "square.$": "States.MathAdd($, $)"},
                       "End": True}}}}}}
    data = {"items": list(range(10))}
    local = asl_airflow.run(machine, data, engine="local", history=True)
    on_airflow = asl_airflow.run(machine, data, engine="airflow", history=True)
    assert on_airflow["status"] == "SUCCEEDED", on_airflow
    assert on_airflow["output"] == local["output"]
    assert _types(on_airflow) == _types(local)
    assert _types(on_airflow).count("MapIterationSucceeded") == 10


def test_a_parallel_failing_in_one_map_item_leaves_the_other_items_alone():
    """Inside a Map's items, a Parallel whose branch input fails for one item skips that item's
    branches only: the other items' branches run, as on Step Functions."""
    machine = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "End": True, "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "Both", "States": {"Both": {
            "Type": "Parallel", "InputPath": "$.x", "End": True,
            "Catch": [{"ErrorEquals": ["States.Runtime"], "ResultPath": "$.error", "Next": "Missing"}],
            "Branches": [{"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}]},
            "Missing": {"Type": "Pass", "Result": "no x", "End": True}}}}}}
    data = {"items": [{}, {"x": 1}, {}, {"x": 2}]}
    local = asl_airflow.run(machine, data, engine="local", history=True)
    on_airflow = asl_airflow.run(machine, data, engine="airflow", history=True)
    assert local["output"] == ["no x", [1], "no x", [2]]
    assert on_airflow["status"] == "SUCCEEDED", on_airflow
    assert on_airflow["output"] == local["output"]
    assert _types(on_airflow) == _types(local)
