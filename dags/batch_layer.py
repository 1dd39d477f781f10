"""Batch layer: DMS full load, Glue crawler, Glue ETL job, AWS Batch features, then GX on the curated zone.

Runs when ``ingestion_datasync`` published good raw orders (the ``lake.raw_orders`` Asset). Once
the machine succeeded, ``validate_curated_orders`` checks the Glue job's output with the
``curated_orders`` suite and, only if it passes, emits ``lake.curated_orders``, which starts
``analytics``. Resource ids come from the deployment (``ASL_DMS_TASK_ARN``, ``ASL_BATCH_*``).
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
CURATED_ORDERS = Asset(name="lake.curated_orders", uri=f"s3://{LAKE}/curated/orders/")

dag = asl_dag(
    INCLUDE / "asl" / "batch_layer.asl.json",
    dag_id="batch_layer",
    substitutions={
        "partition": "aws",
        "DmsTaskArn": os.environ.get(
            "ASL_DMS_TASK_ARN", f"arn:aws:dms:{REGION}:{ACCOUNT}:task:asl-airflow-customers-full-load"),
        "CrawlerName": "asl-airflow-raw-crawler",
        "GlueDatabase": "asl_airflow_lake",
        "GlueJobName": "asl-airflow-curate-orders",
        "BatchJobQueue": os.environ.get("ASL_BATCH_JOB_QUEUE", "asl-airflow-features"),
        "BatchJobDefinition": os.environ.get("ASL_BATCH_JOB_DEFINITION", "asl-airflow-build-features"),
        "LakeBucket": LAKE,
        "PollSeconds": os.environ.get("ASL_POLL_SECONDS", "60"),
    },
    region_name=REGION,
    schedule=[RAW_ORDERS],
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=8),
    default_args={"owner": "data-platform"},
    tags=["layer:batch", "dms", "glue", "batch", "data-quality"],
)

with dag:
    success_ends(dag) >> GxCheckOperator(
        task_id="validate_curated_orders",
        suite_path=INCLUDE / "gx" / "curated_orders.json",
        bucket=LAKE,
        prefix="curated/orders/",
        trigger_rule="none_failed_min_one_success",
        outlets=[CURATED_ORDERS],
    )
