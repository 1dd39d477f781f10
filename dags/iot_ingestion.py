"""IoT layer: sensor readings published over MQTT land in the lake, started by the messages themselves.

The ``iot.sensor_readings`` Asset has an ``AssetWatcher`` whose :class:`MqttTrigger` subscribes (QoS 1,
persistent session, fixed client id) to the devices' telemetry topic: each batch of messages becomes
an asset event and starts a run with the batch as the execution input. The machine quarantines
readings that break the contract and lands the rest in the raw zone; ``validate_iot_readings`` (GX)
checks the landed batch and only then ``promote_iot_readings`` copies it to the curated zone and
emits ``lake.curated_iot_readings``. Broker settings: ``ASL_MQTT_HOST``, ``ASL_MQTT_PORT``,
``ASL_MQTT_TOPIC_FILTER``, ``ASL_MQTT_CLIENT_ID``; for AWS IoT Core (port 8883, mutual TLS)
``ASL_MQTT_CA``, ``ASL_MQTT_CERT``, ``ASL_MQTT_KEY``.
"""

import json
import os
from datetime import timedelta
from pathlib import Path

from airflow.sdk import Asset, AssetWatcher
from asl_airflow import asl_dag
from asl_airflow.airflow.builders import success_ends
from asl_airflow.airflow.lake import PromoteOperator
from asl_airflow.airflow.operators import execution_name
from asl_airflow.airflow.quality import GxCheckOperator
from asl_airflow.airflow.triggers_mqtt import MqttTrigger

INCLUDE = Path(__file__).resolve().parents[1] / "include"
LAKE = os.environ.get("ASL_LAKE_BUCKET", "asl-airflow-lake")
HOST = os.environ.get("ASL_MQTT_HOST", "127.0.0.1")
PORT = int(os.environ.get("ASL_MQTT_PORT", "1883"))
TOPIC = os.environ.get("ASL_MQTT_TOPIC_FILTER", "asl/sensors/+/telemetry")
SUITE = INCLUDE / "gx" / "iot_readings.json"
#: the machine quarantines on the same physical ranges the GX suite checks
RANGES = {e["kwargs"]["column"]: [e["kwargs"]["min_value"], e["kwargs"]["max_value"]]
          for e in json.loads(SUITE.read_text())["expectations"] if e["type"] == "expect_column_values_to_be_between"}
BATCH = "batch={{ asl_execution_name(run_id, dag.dag_id) }}/"

READINGS = Asset(
    name="iot.sensor_readings",
    uri=f"mqtt://{HOST}:{PORT}/{TOPIC}",
    watchers=[AssetWatcher(name="iot_mqtt", trigger=MqttTrigger(
        TOPIC, os.environ.get("ASL_MQTT_CLIENT_ID", "asl-airflow-iot-ingestion"), hostname=HOST, port=PORT,
        ca_path=os.environ.get("ASL_MQTT_CA"), cert_path=os.environ.get("ASL_MQTT_CERT"),
        key_path=os.environ.get("ASL_MQTT_KEY"), batch_size=int(os.environ.get("ASL_MQTT_BATCH_SIZE", "100")),
        batch_window=float(os.environ.get("ASL_MQTT_BATCH_WINDOW", "1.0"))))],
)
CURATED_READINGS = Asset(name="lake.curated_iot_readings", uri=f"s3://{LAKE}/curated/iot/readings/")

# ReadingRanges is a JSONata object literal: substitutions are textual (as SAM's) and land inside a
# JSON string, so it has no double quotes
SUBSTITUTIONS = {"partition": "aws", "LakeBucket": LAKE,
                 "ReadingRanges": "{" + ", ".join(f"'{k}': [{lo}, {hi}]" for k, (lo, hi) in RANGES.items()) + "}"}

dag = asl_dag(
    INCLUDE / "asl" / "iot_ingestion.asl.json",
    dag_id="iot_ingestion",
    substitutions=SUBSTITUTIONS,
    region_name=os.environ.get("ASL_AWS_REGION", "us-east-1"),
    schedule=[READINGS],
    max_active_runs=4,
    dagrun_timeout=timedelta(minutes=30),
    user_defined_macros={"asl_execution_name": execution_name},
    default_args={"owner": "iot"},
    tags=["layer:iot", "mqtt", "event-driven", "data-quality"],
)

with dag:
    landed = success_ends(dag, "Landed")
    landed >> GxCheckOperator(
        task_id="validate_iot_readings", suite_path=SUITE, bucket=LAKE, prefix="raw/iot/readings/" + BATCH,
    ) >> PromoteOperator(
        task_id="promote_iot_readings", bucket=LAKE, source_prefix="raw/iot/readings/" + BATCH,
        target_prefix="curated/iot/readings/" + BATCH, outlets=[CURATED_READINGS],
    )
