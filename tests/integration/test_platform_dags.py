"""The platform's DAGs end to end on the local stack (moto + dag.test), and data quality between layers.

Every DAG in dags/ must reach SUCCEEDED as ``make run DAG=<id>`` would run it. The quality checks
must gate the next layer: good data emits the Asset event that queues the downstream DAG, bad data
fails the check with a report naming the failed expectations and queues nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from asl_airflow import devstack

DAGS = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "dags").glob("*.py") if not p.stem.startswith("_"))

#: what each layer's quality check is called, and which DAG its Asset starts
GATES = {
    "ingestion_datasync": ("validate_raw_orders", "batch_layer"),
    "batch_layer": ("validate_curated_orders", "analytics"),
}

_PROBE = """
import json, sys
from sqlalchemy import select
from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
dag_id, run_id, task_id = sys.argv[1:4]
with create_session() as s:
    events = s.execute(select(AssetModel.name).join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
                       .where(AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run_id)).scalars().all()
    queued = s.execute(select(AssetDagRunQueue.target_dag_id)).scalars().all()
    raw = s.execute(select(XComModel.value).where(XComModel.dag_id == dag_id, XComModel.run_id == run_id,
                    XComModel.task_id == task_id, XComModel.key == "gx_report")).scalar()
    report = XComModel.deserialize_value(type("R", (), {"value": raw})()) if raw is not None else None
print(json.dumps({"events": events, "queued": sorted(set(queued)), "report": report}, default=str))
"""


@pytest.fixture(scope="module")
def local_stack():
    """A stack of the platform's own, as ``make run`` starts one: the seeded data (the Athena rows
    queued for the analytics layer, say) and moto's transitions are not shared with other tests."""
    stack = devstack.start()
    try:
        yield stack
    finally:
        devstack.stop(stack.pid)


def _airflow_env(stack, tmp_path) -> dict[str, str]:
    env = {**os.environ, **stack.env(), **devstack.airflow_env(tmp_path / "home"),
           # as deployed: the layers are unpaused, so an Asset event queues the next layer's run
           "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False"}
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # every DAG in the metadata DB, as the scheduler would have them: Asset schedules are then known
    subprocess.run([sys.executable, "-m", "airflow", "dags", "reserialize"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return env


def _dags_test(env: dict[str, str], dag_id: str, conf: dict | None = None) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "asl_airflow.cli", "_dags-test", dag_id, "--json", "--input", json.dumps(conf or {})],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.stdout.strip(), proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["log"] = proc.stdout + proc.stderr
    return result


def _probe(env: dict[str, str], dag_id: str, run_id: str, task_id: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _PROBE, dag_id, run_id, task_id],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("dag_id", DAGS)
def test_every_dag_succeeds_on_the_local_stack(local_stack, tmp_path, dag_id):
    env = _airflow_env(local_stack, tmp_path)
    # as `make run DAG=<id>`: a layer started by events gets its sample event batch as the input
    sample = devstack.sample_input(dag_id)
    result = _dags_test(env, dag_id, json.loads(sample.read_text()) if sample else None)
    assert result["status"] == "SUCCEEDED", (result["error"], result["cause"], result["log"][-3000:])
    statuses = {s["task_id"]: s["status"] for s in result["states"]}
    assert "failed" not in statuses.values() and "upstream_failed" not in statuses.values()
    types = [e["type"] for e in result["history"]]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    _check_execution_view(env, dag_id, result)
    if dag_id in GATES:
        check, downstream = GATES[dag_id]
        assert statuses[check] == "success"
        seen = _probe(env, dag_id, result["run_id"], check)
        assert seen["report"]["success"] is True and seen["report"]["rows"] > 0
        # the check's Asset event is what queues the next layer's run
        assert len(seen["events"]) == 1 and downstream in seen["queued"]


def test_each_layer_output_is_what_step_functions_returns(local_stack, tmp_path):
    """Spot checks of the machines' outputs: the polled statuses and the .sync results."""
    env = _airflow_env(local_stack, tmp_path)
    ingestion = _dags_test(env, "ingestion_datasync")["output"]
    assert ingestion["Status"] == "SUCCESS" and "/execution/exec-" in ingestion["TaskExecutionArn"]
    batch = _dags_test(env, "batch_layer")["output"]
    assert batch["replication"]["Status"] == "stopped" and batch["replication"]["Stats"]["TablesErrored"] == 0
    assert batch["crawler"]["Crawler"]["State"] == "READY"
    assert batch["etl"]["JobRunState"] == "SUCCEEDED" and batch["features"]["Status"] == "SUCCEEDED"
    analytics = _dags_test(env, "analytics")["output"]
    assert analytics["athena"]["State"] == "SUCCEEDED"
    assert analytics["athena"]["results"]["Rows"][0]["Data"][0]["VarCharValue"] == "order_date"
    assert analytics["load"]["Status"] == "FINISHED"
    assert analytics["spark"]["ApplicationId"] == local_stack.env()["ASL_EMR_APPLICATION_ID"]
    assert analytics["spice"]["IngestionStatus"] == "INITIALIZED"


BAD_ORDERS = (
    "order_id,customer_id,order_date,amount,currency,status\n"
    "900001,1001,2025-06-02,-25.00,EUR,placed\n"
    "900002,,2025-06-02,80.00,CHF,shipped\n"
)


def test_bad_raw_data_fails_the_check_and_does_not_start_the_batch_layer(local_stack, tmp_path):
    import boto3

    s3 = boto3.client("s3", endpoint_url=local_stack.endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    key = "raw/orders/orders-2025-06-02.csv"
    s3.put_object(Bucket="asl-airflow-lake", Key=key, Body=BAD_ORDERS.encode())
    try:
        env = _airflow_env(local_stack, tmp_path)
        result = _dags_test(env, "ingestion_datasync")
    finally:
        s3.delete_object(Bucket="asl-airflow-lake", Key=key)
    statuses = {s["task_id"]: s["status"] for s in result["states"]}
    # the transfer itself succeeded; the data did not pass
    assert statuses["Transfer_verified"] == "success"
    assert statuses["validate_raw_orders"] == "failed"
    assert result["status"] == "FAILED"
    seen = _probe(env, "ingestion_datasync", result["run_id"], "validate_raw_orders")
    assert seen["events"] == [] and "batch_layer" not in seen["queued"]
    failed = {(f["type"], f["column"]) for f in seen["report"]["failed"]}
    assert failed == {
        ("expect_column_values_to_be_between", "amount"),
        ("expect_column_values_to_not_be_null", "customer_id"),
        ("expect_column_values_to_be_in_set", "currency"),
    }
    # the task fails with the readable report, in its log
    log = result["log"]
    assert "Data quality FAILED: suite 'raw_orders' on s3://asl-airflow-lake/raw/orders/" in log
    for line in ("expect_column_values_to_be_between column 'amount'",
                 "expect_column_values_to_not_be_null column 'customer_id'",
                 "expect_column_values_to_be_in_set column 'currency'"):
        assert line in log


def _iot_keys(s3, prefix: str) -> dict[str, list[dict]]:
    """batch folder -> the readings in it, under a prefix of the lake."""
    found: dict[str, list[dict]] = {}
    for obj in s3.list_objects_v2(Bucket="asl-airflow-lake", Prefix=prefix).get("Contents", []):
        body = s3.get_object(Bucket="asl-airflow-lake", Key=obj["Key"])["Body"].read().decode()
        found[obj["Key"].split("/")[-2]] = [json.loads(line) for line in body.splitlines() if line.strip()]
    return found


def test_iot_bad_readings_never_reach_the_curated_zone(local_stack, tmp_path):
    """The machine quarantines readings that break the contract; GX stops a batch with a reading the
    machine's rules let through (a device id outside the fleet's pattern), so nothing of it is curated."""
    s3 = local_stack.client("s3")
    env = _airflow_env(local_stack, tmp_path)
    sample = json.loads(devstack.sample_input("iot_ingestion").read_text())
    good = _dags_test(env, "iot_ingestion", sample)
    assert good["status"] == "SUCCEEDED", good["log"][-3000:]
    batch = f"batch={good['output']['batch']}"
    curated, rejected = _iot_keys(s3, "curated/iot/readings/"), _iot_keys(s3, "raw/iot/rejected/")
    readings = [m["payload"] for m in sample[0]["messages"]]
    bad_ids = {"dev-000-sample-000004", "dev-001-sample-000009"}  # 900 °C; humidity "n/a"
    assert {r["reading_id"] for r in rejected[batch]} == bad_ids
    assert {r["reading_id"] for r in curated[batch]} == {r["reading_id"] for r in readings} - bad_ids
    assert len(curated[batch]) == len({r["reading_id"] for r in readings}) - 2  # the redelivery counted once

    odd = [dict(readings[1], reading_id="dev-x-1", device_id="camera-7")]
    blocked = _dags_test(env, "iot_ingestion", [{"messages": [{"topic": "asl/sensors/camera-7/telemetry",
                                                                "payload": r} for r in odd]}])
    statuses = {s["task_id"]: s["status"] for s in blocked["states"]}
    assert statuses["Land_readings"] == "success" and statuses["validate_iot_readings"] == "failed"
    assert statuses["promote_iot_readings"] in ("upstream_failed", "skipped")
    seen = _probe(env, "iot_ingestion", blocked["run_id"], "validate_iot_readings")
    assert ("expect_column_values_to_match_regex", "device_id") in {(f["type"], f["column"])
                                                                    for f in seen["report"]["failed"]}
    assert seen["events"] == []
    assert not any(r["reading_id"] == "dev-x-1" for rows in _iot_keys(s3, "curated/iot/readings/").values()
                   for r in rows)


_VIEW = """
import json, sys
from asl_airflow.airflow.console.diagram import render_svg
from asl_airflow.airflow.console.docs import definition_from_doc
from asl_airflow.airflow.console.execution import machine_states, state_views
from asl_airflow.airflow.testing import load_dag
dag_id, history = sys.argv[1], json.loads(sys.stdin.read())
machine = definition_from_doc(load_dag(dag_id).doc_md)
views = state_views(machine, history, "SUCCEEDED")
svg = render_svg(machine, {n: v["status"] for n, v in views.items()})
print(json.dumps({"states": sorted(machine_states(machine)), "svg": svg}))
"""


def _check_execution_view(env: dict[str, str], dag_id: str, result: dict) -> None:
    """The execution view of the finished run (issue 13): one SVG node per state of the machine, its
    data-status what the run's history says: exited -> SUCCEEDED/CAUGHT, never entered -> NOT_RUN."""
    import re

    proc = subprocess.run([sys.executable, "-c", _VIEW, dag_id], input=json.dumps(result["history"]), env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    view = json.loads(proc.stdout.strip().splitlines()[-1])
    nodes = dict(re.findall(r'data-state="([^"]*)"[^>]*?data-status="([^"]*)"', view["svg"]))
    assert sorted(nodes) == view["states"]
    entered = {e["stateEnteredEventDetails"]["name"] for e in result["history"] if "stateEnteredEventDetails" in e}
    exited = {e["stateExitedEventDetails"]["name"] for e in result["history"] if "stateExitedEventDetails" in e}
    for name, status in nodes.items():
        if name not in entered:
            assert status == "NOT_RUN", (name, status)
        elif name in exited:
            assert status in ("SUCCEEDED", "CAUGHT"), (name, status)

