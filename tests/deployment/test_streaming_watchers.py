"""The streaming layers started by their AssetWatchers, on a real deployment (issue 12).

No ``dag.test()`` here: ``airflow scheduler``, ``dag-processor``, ``triggerer`` and ``api-server`` run
as processes on PostgreSQL (``deployment_harness``), the local stack (moto) is the AWS endpoint and
Mosquitto the MQTT broker. Sensor readings are published with the device simulator; the
``iot_ingestion`` watcher's trigger (in the triggerer) turns them into asset events, the scheduler
starts runs with them as the execution input, and the test reads the curated zone of the lake until
every published reading is there. Midway the triggerer is killed (SIGKILL), readings are published
while it is down, and it is started again: none may be missing. It prints what it measured
(readings per second through the watcher, publish-to-lake latency).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest
from asl_airflow import devstack
from deployment_harness import Deployment, link_platform_dags, until

pytestmark = pytest.mark.timeout(3000)
PROJECT = Path(__file__).resolve().parents[2]
HOST = os.environ.get("ASL_MQTT_HOST", "127.0.0.1")
PORT = int(os.environ.get("ASL_MQTT_PORT", "1883"))
LAKE = "asl-airflow-lake"
#: readings in the burst, and published while the triggerer is down (each batch of up to the broker's
#: in-flight window, 20 on Mosquitto, is one event and usually one run of ~10 tasks)
BURST = int(os.environ.get("ASL_WATCH_BURST", "60"))
DOWN = int(os.environ.get("ASL_WATCH_DOWN", "30"))


def _broker_missing() -> str | None:
    try:
        import aiomqtt  # noqa: F401
    except ImportError:
        return "aiomqtt is not installed (the `streaming` extra)"
    try:
        with socket.create_connection((HOST, PORT), timeout=2):
            return None
    except OSError as exc:
        return f"no MQTT broker on {HOST}:{PORT} ({exc}); start Mosquitto or set ASL_MQTT_HOST/ASL_MQTT_PORT"


def _simulator():
    spec = importlib.util.spec_from_file_location("asl_iot_simulator", PROJECT / "include" / "iot" / "simulator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _curated(s3) -> dict[str, float]:
    """reading id -> when the object holding it appeared (LastModified), over the curated zone."""
    found: dict[str, float] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=LAKE, Prefix="curated/iot/readings/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=LAKE, Key=obj["Key"])["Body"].read().decode()
            for line in filter(None, body.splitlines()):
                found.setdefault(json.loads(line)["reading_id"], obj["LastModified"].timestamp())
    return found


def _forget_session(client_id: str) -> None:
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.connect(HOST, PORT)
    client.disconnect()


@pytest.mark.skipif(_broker_missing() is not None, reason=str(_broker_missing()))
def test_mqtt_watcher_starts_iot_runs_and_loses_nothing_across_a_triggerer_kill(pg_template, tmp_path):
    sim = _simulator()
    tag = f"w{os.getpid()}"
    prefix = f"asl-watch/{tag}"
    client_id = f"asl-watch-{tag}-{int(time.time())}"
    stack = devstack.start(log_dir=tmp_path)
    dags = tmp_path / "dags"
    dags.mkdir()
    link_platform_dags(dags, ["iot_ingestion"])
    deployment = Deployment("LocalExecutor", tmp_path, pg_template("mqtt_watch"), dags, extra_env={
        **stack.env(), "ASL_MQTT_CLIENT_ID": client_id, "ASL_MQTT_TOPIC_FILTER": f"{prefix}/+/telemetry",
        "ASL_MQTT_BATCH_WINDOW": "1.0",
        # a loaded 2-core test machine: fewer task processes at once, more patience with the execution API
        "AIRFLOW__CORE__PARALLELISM": "4", "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
    })
    s3 = stack.client("s3")
    published: dict[str, float] = {}

    def publish(items) -> None:
        done = sim.publish_mosquitto(items, HOST, PORT, prefix=prefix)
        published.update({r["reading_id"]: done.last_at for r in items})

    def all_in_lake(ids) -> dict[str, float] | None:
        found = _curated(s3)
        return found if set(ids) <= set(found) else None

    try:
        deployment.start()
        deployment.wait_for_dags(["iot_ingestion"])
        # the first subscription is made when the triggerer starts the watcher's trigger: until then
        # the broker has no session to queue for, so publish one reading at a time until a run comes
        n = 0
        deadline = time.monotonic() + 300
        while not deployment.runs_of("iot_ingestion"):
            assert time.monotonic() < deadline, "no run from the watcher:\n" + deployment.log_tail("triggerer")
            publish(sim.readings(devices=1, count=1, run=f"{tag}-warm{n}"))
            n += 1
            time.sleep(10)
        runs = deployment.runs_of("iot_ingestion")
        assert {r["run_type"] for r in runs} == {"asset_triggered"}, runs

        # a burst: every reading in the curated zone, through the watcher's events and the GX gate
        burst = sim.readings(devices=5, count=BURST, run=f"{tag}-burst")
        t0 = time.time()
        publish(burst)
        found = until("the burst in the curated zone", lambda: all_in_lake(published), 1200, every=2)
        burst_seconds = max(found[r["reading_id"]] for r in burst) - t0
        latencies = sorted(found[r["reading_id"]] - published[r["reading_id"]] for r in burst)

        # the triggerer dies without warning; readings published meanwhile wait in the broker's session
        triggerer = deployment.procs.pop("triggerer")
        os.killpg(triggerer.pid, signal.SIGKILL)
        triggerer.wait()
        during = sim.readings(devices=3, count=DOWN, run=f"{tag}-down")
        publish(during)
        time.sleep(5)
        assert not set(r["reading_id"] for r in during) & set(_curated(s3)), "delivered with no triggerer?"
        deployment._spawn("triggerer", "triggerer")
        until("the readings published while the triggerer was down", lambda: all_in_lake(published), 1200, every=2)

        def settled():
            runs = deployment.runs_of("iot_ingestion")
            return runs if all(r["state"] in ("success", "failed") for r in runs) else None

        runs = until("every run to finish", settled, 900, every=3)
        failed = [r["dag_run_id"] for r in runs if r["state"] != "success"]
        assert not failed, (failed, deployment.log_tail("scheduler"))
        assert {r["run_type"] for r in runs} == {"asset_triggered"}
        assert not set(r["reading_id"] for r in during) - set(_curated(s3))
        print(f"\nMQTT watcher -> iot_ingestion on a LocalExecutor deployment: {len(published)} readings in "
              f"{len(runs)} runs; burst of {len(burst)} in the curated zone {burst_seconds:.1f}s after the "
              f"publish started ({len(burst) / burst_seconds:.1f} readings/s); publish-to-lake latency "
              f"p50 {latencies[len(latencies) // 2]:.1f}s, max {latencies[-1]:.1f}s; "
              f"after a triggerer SIGKILL all {len(during)} readings published while it was down arrived")
    finally:
        deployment.stop()
        devstack.stop(stack.pid)
        _forget_session(client_id)
