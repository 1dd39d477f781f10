"""AWS Elemental MediaConvert ``createJob`` (request-response and ``.sync``) on both engines.

moto has no MediaConvert, so this test starts a small MediaConvert endpoint of its own on a free
127.0.0.1 port (``fake_mediaconvert.py``, a thread of this process, stopped at the end). The
``aws_default`` connection sends only MediaConvert calls there
(``extra.service_config.mediaconvert.endpoint_url``); S3 stays on the local stack."""

from __future__ import annotations

import json
import uuid

import asl_airflow
import pytest
from fake_endpoints import connection_env
from fake_mediaconvert import FakeMediaConvert, serve
from task_states import task

CREATE = "arn:aws:states:::mediaconvert:createJob"
ROLE = "arn:aws:iam::123456789012:role/asl-mediaconvert"


@pytest.fixture(scope="module")
def mediaconvert(local_stack):
    server, _ = serve(local_stack.client("s3"))
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def bucket(local_stack):
    name = f"asl-media-{uuid.uuid4().hex[:8]}"
    s3 = local_stack.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="in/clip.mp4", Body=b"\x00\x00\x00\x18ftypmp42")
    return name


def machine(bucket: str) -> dict:
    def settings(source: str) -> dict:
        return {
            "Inputs": [{"FileInput": f"s3://{bucket}/{source}",
                        "AudioSelectors": {"Audio Selector 1": {"DefaultSelection": "DEFAULT"}}}],
            "OutputGroups": [{"Name": "File Group", "OutputGroupSettings": {
                "Type": "FILE_GROUP_SETTINGS", "FileGroupSettings": {"Destination": f"s3://{bucket}/out/"}},
                "Outputs": [{"ContainerSettings": {"Container": "MP4"}, "VideoDescription": {"CodecSettings": {
                    "Codec": "H_264", "H264Settings": {"RateControlMode": "QVBR", "MaxBitrate": 1000}}}}]}],
        }

    return {"StartAt": "Create", "States": {
        "Create": task(CREATE, {"Role": ROLE, "Settings": settings("in/clip.mp4"),
                                "UserMetadata": {"order.$": "$.order"}, "Tags": {"team": "media"}},
                       "$.created", "Transcode"),
        "Transcode": task(f"{CREATE}.sync", {"Role": ROLE, "Settings": settings("in/clip.mp4")},
                          "$.transcoded", "Transcode missing input"),
        "Transcode missing input": task(f"{CREATE}.sync", {"Role": ROLE, "Settings": settings("in/missing.mp4")},
                                        "$.failed", "Create with a bad role", "States.TaskFailed"),
        "Create with a bad role": task(CREATE, {"Role": "not-a-role", "Settings": settings("in/clip.mp4")},
                                       "$.refused", "Done", "MediaConvert.BadRequestException"),
        "Done": {"Type": "Succeed"},
    }}


def _env(local_stack, mediaconvert: FakeMediaConvert) -> dict[str, str]:
    """The local stack's environment, with MediaConvert calls sent to the fake endpoint."""
    return connection_env(local_stack.env(), {"mediaconvert": mediaconvert.endpoint})


@pytest.fixture(scope="module")
def runs(local_stack, mediaconvert, bucket, environment):
    with environment(_env(local_stack, mediaconvert)):
        local = asl_airflow.run(machine(bucket), {"order": "o-1"}, engine="local", history=True)
        airflow = asl_airflow.run(machine(bucket), {"order": "o-2"}, engine="airflow", history=True)
    return {"local": local, "airflow": airflow}


ENGINES = ["local", "airflow"]


@pytest.mark.parametrize("engine", ENGINES)
def test_run_succeeds(runs, engine):
    assert runs[engine]["status"] == "SUCCEEDED", runs[engine]


@pytest.mark.parametrize("engine", ENGINES)
def test_create_job_returns_the_job_and_tags_it_for_step_functions(runs, engine, mediaconvert, bucket):
    out = runs[engine]["output"]
    job = out["created"]["Job"]
    assert job["Status"] == "SUBMITTED" and job["Role"] == ROLE and job["UserMetadata"] == {"order": out["order"]}
    assert job["Settings"]["Inputs"][0]["FileInput"] == f"s3://{bucket}/in/clip.mp4"  # PascalCase again
    assert isinstance(job["CreatedAt"], int) and job["CreatedAt"] > 10**12  # epoch milliseconds
    sent = next(r for r in mediaconvert.requests if r.get("userMetadata") == {"order": out["order"]})
    assert sent["tags"] == {"team": "media", "ManagedByService": "AWSStepFunctions"}
    assert sent["settings"]["outputGroups"][0]["outputGroupSettings"]["type"] == "FILE_GROUP_SETTINGS"


@pytest.mark.parametrize("engine", ENGINES)
def test_sync_waits_for_the_job_to_complete(runs, engine):
    job = runs[engine]["output"]["transcoded"]["Job"]
    assert job["Status"] == "COMPLETE" and job["JobPercentComplete"] == 100
    assert job["Timing"]["FinishTime"] >= job["Timing"]["SubmitTime"]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_failed_job_is_task_failed_with_the_job_as_cause(runs, engine, bucket):
    out = runs[engine]["output"]
    assert out["failed"]["Error"] == "States.TaskFailed"
    job = json.loads(out["failed"]["Cause"])["Job"]
    assert job["Status"] == "ERROR" and job["ErrorCode"] == 1030
    assert f"s3://{bucket}/in/missing.mp4" in job["ErrorMessage"]
    refused = out["refused"]
    assert refused["Error"] == "MediaConvert.BadRequestException"
    assert "(Service: AWSMediaConvert; Status Code: 400; Error Code: BadRequestException;" in refused["Cause"]


def test_the_sync_job_carries_the_attempt_token_on_airflow(runs, mediaconvert):
    """On Airflow a .sync attempt sends its own ClientRequestToken (a UUID derived from the attempt), so a
    re-run after a worker crash gets the same job; the local engine leaves it to botocore."""
    job_id = runs["airflow"]["output"]["transcoded"]["Job"]["Id"]
    token = mediaconvert.jobs[job_id]["clientRequestToken"]
    assert uuid.UUID(token) and mediaconvert.tokens[token] == job_id


def test_both_engines_agree_on_history(runs):
    def types(result):
        return [e["type"] for e in result["history"]]

    assert types(runs["local"]) == types(runs["airflow"])
    assert types(runs["local"]).count("TaskSubmitted") == 2


def test_a_sync_job_is_created_once_per_attempt(local_stack, mediaconvert, bucket, environment, journaled_call):
    """A worker that died after CreateJob left only the pending mark: the re-run sends the same
    ClientRequestToken and gets the same job back."""
    parameters = machine(bucket)["States"]["Transcode"]["Parameters"]
    with environment(_env(local_stack, mediaconvert)):
        attempt = journaled_call(f"{CREATE}.sync", parameters)
        before = len(mediaconvert.jobs)
        first = attempt.start()
        attempt.lose_id()  # the id never made it
        again = attempt.start()
    assert first["Job"]["Id"] == again["Job"]["Id"] and len(mediaconvert.jobs) == before + 1
    assert first["Job"]["ClientRequestToken"] == attempt.call.attempt_token
