"""Real-time layer: clickstream events from Kinesis Data Streams scored, delivered to the lake, loaded.

The ``stream.clickstream`` Asset has an ``AssetWatcher`` with the Amazon provider's ``KinesisTrigger``
(it checkpoints each shard's sequence number in the asset's state store, so a triggerer restart
resumes where it stopped): each batch of records becomes an asset event and starts a run with the
records as the execution input. The machine scores them with the SageMaker endpoint, delivers them
through Firehose (Parquet, Glue schema), and runs Redshift's COPY job; ``validate_scored_events``
(GX) checks what Firehose delivered and emits ``lake.realtime_scored_events``. Settings:
``ASL_KINESIS_STREAM``, ``ASL_SCORING_ENDPOINT``, ``ASL_FIREHOSE_STREAM``, ``ASL_FIREHOSE_BUFFER_SECONDS``
(60 on AWS), ``ASL_KINESIS_POLL_SECONDS``.
"""

import os
from datetime import timedelta
from pathlib import Path

from airflow.providers.amazon.aws.triggers.kinesis import KinesisTrigger
from airflow.sdk import Asset, AssetWatcher
from asl_airflow import asl_dag
from asl_airflow.airflow.builders import success_ends
from asl_airflow.airflow.quality import GxCheckOperator

INCLUDE = Path(__file__).resolve().parents[1] / "include"
REGION = os.environ.get("ASL_AWS_REGION", "us-east-1")
ACCOUNT = os.environ.get("ASL_AWS_ACCOUNT", "123456789012")
LAKE = os.environ.get("ASL_LAKE_BUCKET", "asl-airflow-lake")
STREAM = os.environ.get("ASL_KINESIS_STREAM", "asl-airflow-clickstream")

CLICKSTREAM = Asset(
    name="stream.clickstream",
    uri=f"kinesis://{ACCOUNT}/{REGION}/{STREAM}",
    watchers=[AssetWatcher(name="clickstream_kinesis", trigger=KinesisTrigger(
        stream_name=STREAM, aws_conn_id="aws_default", region_name=REGION, shard_iterator_type="TRIM_HORIZON",
        batch_size=int(os.environ.get("ASL_KINESIS_BATCH_SIZE", "100")),
        waiter_delay=int(os.environ.get("ASL_KINESIS_POLL_SECONDS", "5"))))],
)
SCORED = Asset(name="lake.realtime_scored_events", uri=f"s3://{LAKE}/realtime/scored/")

SUBSTITUTIONS = {
    "partition": "aws",
    "ScoringEndpoint": os.environ.get("ASL_SCORING_ENDPOINT", "asl-airflow-fraud-scorer"),
    "DeliveryStream": os.environ.get("ASL_FIREHOSE_STREAM", "asl-airflow-scored-events"),
    "BufferSeconds": os.environ.get("ASL_FIREHOSE_BUFFER_SECONDS", "60"),
    "RedshiftCluster": "asl-airflow-dw",
    "RedshiftDatabase": "analytics",
    "RedshiftDbUser": "etl",
    "CopyJob": "realtime_scored_events",
    "PollSeconds": os.environ.get("ASL_POLL_SECONDS", "60"),
}

dag = asl_dag(
    INCLUDE / "asl" / "realtime_scoring.asl.json",
    dag_id="realtime_scoring",
    substitutions=SUBSTITUTIONS,
    region_name=REGION,
    schedule=[CLICKSTREAM],
    max_active_runs=4,
    dagrun_timeout=timedelta(minutes=30),
    default_args={"owner": "realtime"},
    tags=["layer:realtime", "kinesis", "sagemaker", "firehose", "redshift", "event-driven", "data-quality"],
)

with dag:
    success_ends(dag, "Scored and loaded") >> GxCheckOperator(
        task_id="validate_scored_events",
        suite_path=INCLUDE / "gx" / "realtime_scored_events.json",
        bucket=LAKE,
        # the hour partition Firehose delivered this run's records to (the machine's output says which)
        prefix="realtime/scored/{{ ti.xcom_pull(task_ids='Deliver_to_Firehose')['partition'] }}/",
        outlets=[SCORED],
    )
