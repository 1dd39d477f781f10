"""Analytics layer: Athena daily revenue, Redshift load, EMR Serverless customer LTV, QuickSight SPICE refresh.

Runs when ``batch_layer`` published curated orders that passed the ``curated_orders`` suite (the
``lake.curated_orders`` Asset). Resource ids come from the deployment (``ASL_EMR_APPLICATION_ID``,
``ASL_EMR_JOB_ROLE_ARN``, ``ASL_REDSHIFT_COPY_ROLE_ARN``).
"""

import os
from datetime import timedelta
from pathlib import Path

from airflow.sdk import Asset
from asl_airflow import asl_dag

INCLUDE = Path(__file__).resolve().parents[1] / "include"
REGION = os.environ.get("ASL_AWS_REGION", "us-east-1")
ACCOUNT = os.environ.get("ASL_AWS_ACCOUNT", "123456789012")
LAKE = os.environ.get("ASL_LAKE_BUCKET", "asl-airflow-lake")
CURATED_ORDERS = Asset(name="lake.curated_orders", uri=f"s3://{LAKE}/curated/orders/")

dag = asl_dag(
    INCLUDE / "asl" / "analytics.asl.json",
    dag_id="analytics",
    substitutions={
        "partition": "aws",
        "AccountId": ACCOUNT,
        "LakeBucket": LAKE,
        "GlueDatabase": "asl_airflow_lake",
        "AthenaWorkGroup": "asl-airflow-analytics",
        "RedshiftCluster": "asl-airflow-dw",
        "RedshiftDatabase": "analytics",
        "RedshiftDbUser": "etl",
        "RedshiftCopyRoleArn": os.environ.get(
            "ASL_REDSHIFT_COPY_ROLE_ARN", f"arn:aws:iam::{ACCOUNT}:role/asl-airflow-redshift-copy"),
        "EmrApplicationId": os.environ.get("ASL_EMR_APPLICATION_ID", "00fabcdefghij012"),
        "EmrJobRoleArn": os.environ.get(
            "ASL_EMR_JOB_ROLE_ARN", f"arn:aws:iam::{ACCOUNT}:role/asl-airflow-emr-serverless"),
        "QuickSightDataSetId": "asl-airflow-daily-revenue",
        "PollSeconds": os.environ.get("ASL_POLL_SECONDS", "60"),
    },
    region_name=REGION,
    schedule=[CURATED_ORDERS],
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=4),
    default_args={"owner": "analytics"},
    tags=["layer:analytics", "athena", "redshift", "emr-serverless", "quicksight"],
)
