"""Video layer: camera frames from Kinesis Video Streams through Rekognition, detections to Kinesis.

KVS image generation delivers sampled JPEG frames of each camera stream to
``s3://<lake>/raw/video/frames/<stream>/``; the lake's S3 event notifications for them go to an SQS
queue, which the ``video.frames`` Asset's ``AssetWatcher`` reads with the Amazon provider's
``SqsSensorTrigger``: each batch of notifications starts a run with them as the execution input.
The machine runs Rekognition label detection on every frame, writes the detections to the
detections Kinesis stream (for the real-time layer) and lands them in the lake;
``validate_video_detections`` (GX) checks them and emits ``lake.video_detections``. Settings:
``ASL_VIDEO_FRAMES_QUEUE_URL``, ``ASL_DETECTIONS_STREAM``, ``ASL_MIN_CONFIDENCE``, ``ASL_SQS_POLL_SECONDS``.
"""

import os
from datetime import timedelta
from pathlib import Path

from airflow.providers.amazon.aws.triggers.sqs import SqsSensorTrigger
from airflow.sdk import Asset, AssetWatcher
from asl_airflow import asl_dag
from asl_airflow.airflow.builders import success_ends
from asl_airflow.airflow.operators import execution_name
from asl_airflow.airflow.quality import GxCheckOperator

INCLUDE = Path(__file__).resolve().parents[1] / "include"
REGION = os.environ.get("ASL_AWS_REGION", "us-east-1")
ACCOUNT = os.environ.get("ASL_AWS_ACCOUNT", "123456789012")
LAKE = os.environ.get("ASL_LAKE_BUCKET", "asl-airflow-lake")
QUEUE = os.environ.get("ASL_VIDEO_FRAMES_QUEUE_URL",
                       f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/asl-airflow-video-frames")

FRAMES = Asset(
    name="video.frames",
    uri=f"s3://{LAKE}/raw/video/frames/",
    watchers=[AssetWatcher(name="video_frames_sqs", trigger=SqsSensorTrigger(
        sqs_queue=QUEUE, aws_conn_id="aws_default", region_name=REGION, max_messages=10, num_batches=1,
        wait_time_seconds=1, waiter_delay=int(os.environ.get("ASL_SQS_POLL_SECONDS", "5"))))],
)
DETECTIONS = Asset(name="lake.video_detections", uri=f"s3://{LAKE}/raw/video/detections/")

SUBSTITUTIONS = {
    "partition": "aws",
    "LakeBucket": LAKE,
    "DetectionsStream": os.environ.get("ASL_DETECTIONS_STREAM", "asl-airflow-detections"),
    "MinConfidence": os.environ.get("ASL_MIN_CONFIDENCE", "70"),
}

dag = asl_dag(
    INCLUDE / "asl" / "video_detection.asl.json",
    dag_id="video_detection",
    substitutions=SUBSTITUTIONS,
    region_name=REGION,
    schedule=[FRAMES],
    max_active_runs=4,
    dagrun_timeout=timedelta(minutes=30),
    user_defined_macros={"asl_execution_name": execution_name},
    default_args={"owner": "video"},
    tags=["layer:video", "kinesis-video", "rekognition", "kinesis", "event-driven", "data-quality"],
)

with dag:
    success_ends(dag, "Detected") >> GxCheckOperator(
        task_id="validate_video_detections",
        suite_path=INCLUDE / "gx" / "video_detections.json",
        bucket=LAKE,
        prefix="raw/video/detections/batch={{ asl_execution_name(run_id, dag.dag_id) }}/",
        outlets=[DETECTIONS],
    )
