"""A small AWS Elemental MediaConvert endpoint for tests (moto has none).

It speaks the REST-JSON botocore sends and parses (``POST /2017-08-29/jobs``, ``GET
/2017-08-29/jobs/{id}``) on a free 127.0.0.1 port, keeps jobs in memory, returns the job of a
repeated ``clientRequestToken``, refuses a role that is not an IAM role ARN
(``BadRequestException``), and ends a job at its first GetJob: COMPLETE when every input file is an
object in the local stack's S3, ERROR (code 1030, as MediaConvert reports an input it cannot open)
otherwise. It proves our side of the integration only: what real MediaConvert answers beyond that
is not modelled. Used by ``tests/integration`` (a thread of the test) and ``tests/deployment`` (the
deployment's triggerer and workers reach it over HTTP)."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fake_endpoints import started


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


def serve(s3: Any) -> tuple[FakeMediaConvert, threading.Thread]:
    """A started endpoint (stop it with ``server.shutdown(); server.server_close()``)."""
    return started(FakeMediaConvert(s3), "fake-mediaconvert")
