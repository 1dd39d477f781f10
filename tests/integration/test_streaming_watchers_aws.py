"""The real-time and video layers' watchers on the local stack (moto server), in-process.

Each DAG's own ``AssetWatcher`` trigger (the Amazon provider's ``KinesisTrigger`` and
``SqsSensorTrigger``, taken from the parsed DAG file) is run with asyncio against moto: records put on
the Kinesis stream, or frames written to the lake (S3 notification -> SQS), must come out as the
trigger's event; that event, as the execution input the watcher gives a run, must then take the
layer's machine to SUCCEEDED with the records in the lake (and, for video, the detections on the
detections Kinesis stream).
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import io
import json
import runpy
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

PROJECT = Path(__file__).resolve().parents[2]
LAKE = "asl-airflow-lake"


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(f"asl_test_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dag_file(name: str) -> dict:
    """The DAG file as the DAG processor runs it (environment from the local stack)."""
    return runpy.run_path(str(PROJECT / "dags" / f"{name}.py"))


async def _first_event(trigger, action, timeout: float = 60.0):
    """Start the trigger, do ``action`` once it polls, return its first event."""
    agen = trigger.run()
    pending = asyncio.ensure_future(agen.__anext__())
    await asyncio.sleep(2.0)
    await asyncio.to_thread(action)
    try:
        return await asyncio.wait_for(pending, timeout)
    finally:
        await agen.aclose()


def _load(name: str, module: dict):
    """The DAG's definition with the substitutions the DAG file gives it."""
    from asl_airflow import load_definition

    return load_definition(PROJECT / "include" / "asl" / f"{name}.asl.json", module["SUBSTITUTIONS"])


def test_kinesis_watcher_fires_with_the_records_and_the_machine_delivers_them(stack_env):
    seeds = _module(PROJECT / "include" / "seeds" / "realtime_scoring.py")
    module = _dag_file("realtime_scoring")
    trigger = module["CLICKSTREAM"].watchers[0].trigger
    assert type(trigger).__name__ == "KinesisTrigger" and trigger.stream_name == "asl-airflow-clickstream"
    kinesis = stack_env.client("kinesis")
    events = seeds.clickstream_events(count=6, seed=99, run="watch")

    def put() -> None:
        kinesis.put_records(StreamName=trigger.stream_name, Records=[
            {"Data": json.dumps(e).encode(), "PartitionKey": str(e["user_id"])} for e in events])

    event = asyncio.run(_first_event(trigger, put))
    batch = event.payload["message_batch"]
    decoded = [json.loads(base64.b64decode(r["Data"])) for r in batch]
    assert event.payload["status"] == "success"
    # TRIM_HORIZON: what the seed or earlier tests put comes first; ours are all there, in order
    assert [d for d in decoded if d["event_id"].startswith("watch-")] == events

    from asl_airflow import run

    result = run(_load("realtime_scoring", module), [event.payload], engine="local")
    assert result["status"] == "SUCCEEDED", result
    assert result["output"]["delivered"] == len(batch) and result["output"]["load"]["Status"] == "FINISHED"
    import pyarrow.parquet as pq

    s3 = stack_env.client("s3")
    prefix = f"realtime/scored/{result['output']['partition']}/"
    rows = []
    for obj in s3.list_objects_v2(Bucket=LAKE, Prefix=prefix)["Contents"]:
        assert obj["Key"].endswith(".parquet")
        rows += pq.read_table(io.BytesIO(s3.get_object(Bucket=LAKE, Key=obj["Key"])["Body"].read())).to_pylist()
    ours = {r["event_id"]: r for r in rows if r["event_id"].startswith("watch-")}
    assert set(ours) == {e["event_id"] for e in events}
    assert all(r["fraud_score"] == 0.5 and r["sequence_number"] for r in ours.values())


def test_sqs_watcher_fires_with_new_frames_and_detections_reach_the_stream(stack_env):
    seeds = _module(PROJECT / "include" / "seeds" / "video_detection.py")
    module = _dag_file("video_detection")
    trigger = module["FRAMES"].watchers[0].trigger
    assert type(trigger).__name__ == "SqsSensorTrigger"
    s3, sqs, kinesis = stack_env.client("s3"), stack_env.client("sqs"), stack_env.client("kinesis")
    queue = trigger.sqs_queue
    # S3 sends an s3:TestEvent when notifications are configured; the seed's frames were written
    # before that, so nothing else may be waiting
    waiting = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    assert all(json.loads(m["Body"]).get("Event") == "s3:TestEvent" for m in waiting), waiting
    sqs.purge_queue(QueueUrl=queue)
    key = f"{seeds.FRAMES_PREFIX}2026/06/02/10/frame-watch.jpg"

    def put() -> None:
        s3.put_object(Bucket=LAKE, Key=key, Body=seeds.FRAME, ContentType="image/jpeg")

    event = asyncio.run(_first_event(trigger, put))
    bodies = [json.loads(m["Body"]) for m in event.payload["message_batch"]]
    # keys in S3 notifications are URL-encoded (moto also encodes "/"); the machine decodes them
    assert [unquote_plus(r["s3"]["object"]["key"]) for b in bodies for r in b["Records"]] == [key]

    shard = kinesis.list_shards(StreamName="asl-airflow-detections")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName="asl-airflow-detections", ShardId=shard,
                                          ShardIteratorType="LATEST")["ShardIterator"]
    from asl_airflow import run

    result = run(_load("video_detection", module), [event.payload], engine="local")
    assert result["status"] == "SUCCEEDED", result
    assert result["output"]["frames"] == 1 and result["output"]["detections"] >= 1
    records = kinesis.get_records(ShardIterator=iterator)["Records"]
    detections = [json.loads(r["Data"]) for r in records]
    assert detections and {d["frame"] for d in detections} == {f"s3://{LAKE}/{key}"}
    # moto's Rekognition answers every image with the same label
    assert {d["label"] for d in detections} == {"Mobile Phone"}
    assert {d["camera"] for d in detections} == {"asl-airflow-cameras"}


@pytest.mark.parametrize("name", ["realtime_scoring", "video_detection", "iot_ingestion"])
def test_sample_input_is_what_the_watcher_emits(name):
    """``make run``'s sample input has the shape of the watcher's events (an array of payloads)."""
    sample = json.loads((PROJECT / "include" / "samples" / f"{name}.json").read_text())
    assert isinstance(sample, list) and sample
    key = "messages" if name == "iot_ingestion" else "message_batch"
    assert all(isinstance(event[key], list) and event[key] for event in sample)
