"""Local stack seed for ``video_detection``: the cameras' Kinesis video stream, the SQS queue that the
lake's S3 event notifications for new frames go to (the watcher reads it), the detections Kinesis
stream, and three sample frames.

moto implements neither KVS image generation (``UpdateImageGenerationConfiguration``: KVS writing
sampled JPEG frames to S3) nor any media: the seed writes the frames that feature would deliver,
under the same prefix; their S3 notifications reach the queue as they would. Rekognition in moto
returns one fixed label ("Mobile Phone", 99.9%) for any image. ``include/samples/video_detection.json``
is the watcher's event for these frames (``frames_event`` makes it).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

VIDEO_STREAM = "asl-airflow-cameras"
DETECTIONS = "asl-airflow-detections"
QUEUE = "asl-airflow-video-frames"
FRAMES_PREFIX = f"raw/video/frames/{VIDEO_STREAM}/"
#: a JPEG's start and end markers around a JFIF header: what KVS image generation writes, in miniature
FRAME = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
SAMPLE_FRAMES = [f"{FRAMES_PREFIX}2026/06/01/09/frame-{i:04d}.jpg" for i in range(3)]


def _lake() -> Any:
    spec = importlib.util.spec_from_file_location("asl_seed_lake", Path(__file__).with_name("_lake.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def s3_event(bucket: str, keys: list[str], when: str = "2026-06-01T09:00:00.000Z") -> dict[str, Any]:
    """An S3 event notification (``ObjectCreated:Put``) for the keys, as S3 sends it to SQS."""
    return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                         "eventTime": when, "eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                                "object": {"key": key, "size": len(FRAME)}}} for key in keys]}


def frames_event(bucket: str, keys: list[str]) -> dict[str, Any]:
    """One SqsSensorTrigger event as the watcher emits it (``message_batch`` of SQS messages)."""
    return {"status": "success", "message_batch": [
        {"MessageId": f"sample-{i}", "ReceiptHandle": f"sample-{i}", "MD5OfBody": "",
         "Body": json.dumps(s3_event(bucket, [key]))} for i, key in enumerate(keys)]}


def seed(endpoint: str, region: str) -> dict[str, str]:
    lake = _lake()
    aws = lake.session(region)
    s3 = aws.client("s3", endpoint_url=endpoint)
    lake.ensure_bucket(s3, lake.LAKE, region)
    aws.client("kinesisvideo", endpoint_url=endpoint).create_stream(
        StreamName=VIDEO_STREAM, MediaType="video/h264", DataRetentionInHours=24)
    kinesis = aws.client("kinesis", endpoint_url=endpoint)
    if DETECTIONS not in kinesis.list_streams().get("StreamNames", []):
        kinesis.create_stream(StreamName=DETECTIONS, ShardCount=1)
    # the sample frames go in before the notifications are configured: they are make run's input
    # (include/samples/), not news for the watcher, which starts on an empty queue
    for key in SAMPLE_FRAMES:
        s3.put_object(Bucket=lake.LAKE, Key=key, Body=FRAME, ContentType="image/jpeg")
    sqs = aws.client("sqs", endpoint_url=endpoint)
    url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=lake.LAKE, NotificationConfiguration={
        "QueueConfigurations": [{"Id": "video-frames", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": FRAMES_PREFIX}]}}}]})
    return {"ASL_VIDEO_FRAMES_QUEUE_URL": url}
