"""AWS Elemental MediaConvert ``createJob`` (request-response and ``.sync``) on both engines.

moto has no MediaConvert, so this test starts a small MediaConvert endpoint of its own on a free
127.0.0.1 port (a thread of this process, stopped at the end): it speaks the REST-JSON botocore
sends and parses (``POST /2017-08-29/jobs``, ``GET /2017-08-29/jobs/{id}``), keeps jobs in memory,
returns the job of a repeated ``clientRequestToken``, refuses a role that is not an IAM role ARN
(``BadRequestException``), and ends a job at its first GetJob: COMPLETE when every input file is an
object in the local stack's S3, ERROR (code 1030, as MediaConvert reports an input it cannot open)
otherwise. The ``aws_default`` connection sends only MediaConvert calls there
(``extra.service_config.mediaconvert.endpoint_url``); S3 stays on the local stack."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asl_airflow
import pytest

CREATE = "arn:aws:states:::mediaconvert:createJob"
ROLE = "arn:aws:iam::123456789012:role/asl-mediaconvert"


class FakeMediaConvert(ThreadingHTTPServer):
    """The MediaConvert jobs API, as far as createJob and its .sync wait use it."""

    daemon_threads = True

    def __init__(self, s3: Any) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.s3 = s3
        self.jobs: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def exists(self, uri: str) -> bool:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
        except Exception:
            return False
        return True


class _Handler(BaseHTTPRequestHandler):
    server: FakeMediaConvert

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def _answer(self, status: int, body: dict[str, Any], error: str | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error:
            self.send_header("x-amzn-ErrorType", error)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if self.path.rstrip("/") != "/2017-08-29/jobs":
            return self._answer(404, {"message": f"no route {self.path}"}, "NotFoundException")
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        server = self.server
        with server.lock:
            server.requests.append(body)
            token = body.get("clientRequestToken")
            if token and token in server.tokens:
                return self._answer(201, {"job": server.jobs[server.tokens[token]]})
            if not re.fullmatch(r"arn:aws:iam::\d{12}:role/.+", str(body.get("role"))):
                return self._answer(400, {"message": f"Role {body.get('role')!r} is not an IAM role ARN."},
                                    "BadRequestException")
            job_id = f"{int(time.time() * 1000)}-{uuid.uuid4().hex[:6]}"
            now = int(time.time())
            server.jobs[job_id] = {
                "arn": f"arn:aws:mediaconvert:us-east-1:123456789012:jobs/{job_id}", "id": job_id,
                "status": "SUBMITTED", "createdAt": now, "role": body["role"], "settings": body.get("settings", {}),
                "clientRequestToken": token, "queue": "arn:aws:mediaconvert:us-east-1:123456789012:queues/Default",
                "userMetadata": body.get("userMetadata", {}), "timing": {"submitTime": now},
                "statusUpdateInterval": body.get("statusUpdateInterval", "SECONDS_60"), "priority": 0,
            }
            if token:
                server.tokens[token] = job_id
            return self._answer(201, {"job": server.jobs[job_id]})

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        match = re.fullmatch(r"/2017-08-29/jobs/([^/?]+)", self.path)
        job = self.server.jobs.get(match.group(1)) if match else None
        if job is None:
            return self._answer(404, {"message": "The specified job does not exist."}, "NotFoundException")
        with self.server.lock:
            if job["status"] == "SUBMITTED":  # ends at its first GetJob
                inputs = [i.get("fileInput", "") for i in job["settings"].get("inputs", [])]
                missing = [uri for uri in inputs if not self.server.exists(uri)]
                now = int(time.time())
                job["timing"].update(startTime=now, finishTime=now)
                if missing:
                    job.update(status="ERROR", errorCode=1030, errorMessage=f"Failed probe/open: [Failed to open "
                               f"input file [{missing[0]}]]")
                else:
                    job.update(status="COMPLETE", jobPercentComplete=100)
        return self._answer(200, {"job": job})


@pytest.fixture(scope="module")
def mediaconvert(local_stack):
    server = FakeMediaConvert(local_stack.client("s3"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
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

    def task(resource: str, parameters: dict, result_path: str, next_state: str, catch: str | None = None) -> dict:
        state = {"Type": "Task", "Resource": resource, "Parameters": parameters, "ResultPath": result_path,
                 "Next": next_state}
        if catch:
            state["Catch"] = [{"ErrorEquals": [catch], "ResultPath": result_path, "Next": next_state}]
        return state

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
    env = local_stack.env()
    conn = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    conn["extra"]["service_config"] = {"mediaconvert": {"endpoint_url": mediaconvert.endpoint}}
    return {**env, "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(conn)}


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
