"""Ingestion layer: DataSync copies the order exports to the lake's raw zone, then GX validates them.

Nightly. The machine starts the DataSync task execution (verification on) and polls it until
SUCCESS or ERROR; once it succeeded, ``validate_raw_orders`` checks the raw orders with the
``raw_orders`` suite and, only if they pass, emits the ``lake.raw_orders`` Asset event that
starts ``batch_layer``. The task ARN comes from the deployment (``ASL_DATASYNC_TASK_ARN``).
"""

import os
from datetime import timedelta
from pathlib import Path

from airflow.sdk import Asset
from asl_airflow import asl_dag
from asl_airflow.airflow.builders import success_ends
from asl_airflow.airflow.quality import GxCheckOperator

INCLUDE = Path(__file__).resolve().parents[1] / "include"
REGION = os.environ.get("ASL_AWS_REGION", "us-east-1")
ACCOUNT = os.environ.get("ASL_AWS_ACCOUNT", "123456789012")
LAKE = os.environ.get("ASL_LAKE_BUCKET", "asl-airflow-lake")
RAW_ORDERS = Asset(name="lake.raw_orders", uri=f"s3://{LAKE}/raw/orders/")

dag = asl_dag(
    INCLUDE / "asl" / "ingestion_datasync.asl.json",
    dag_id="ingestion_datasync",
    substitutions={
        "partition": "aws",
        "DataSyncTaskArn": os.environ.get(
            "ASL_DATASYNC_TASK_ARN", f"arn:aws:datasync:{REGION}:{ACCOUNT}:task/task-0a1b2c3d4e5f60718"),
        "LakeBucket": LAKE,
        "RawPrefix": "raw/orders/",
        "PollSeconds": os.environ.get("ASL_POLL_SECONDS", "60"),
    },
    region_name=REGION,
    schedule="0 1 * * *",
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=6),
    default_args={"owner": "data-platform"},
    tags=["layer:ingestion", "datasync", "data-quality"],
)

with dag:
    success_ends(dag) >> GxCheckOperator(
        task_id="validate_raw_orders",
        suite_path=INCLUDE / "gx" / "raw_orders.json",
        bucket=LAKE,
        prefix="raw/orders/",
        trigger_rule="none_failed_min_one_success",
        outlets=[RAW_ORDERS],
    )
