"""The HTTP Task (``http:invoke``) against a local HTTP server this test starts, on both engines: the
request as AWS documents it (headers, query, JSON and URL-encoded bodies, the connection's
parameters winning, User-Agent and Range), the three EventBridge authorization kinds mapped to
Airflow connections, the output shape, and the errors (status codes, forbidden headers, binary
responses, a missing connection, a refused socket)."""

from __future__ import annotations

import base64
import json
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import asl_airflow
import pytest

ARN = "arn:aws:events:us-east-1:123456789012:connection/{}/0b8e2a8c-0000-4000-8000-000000000000"
INVOKE = "arn:aws:states:::http:invoke"


class _Handler(BaseHTTPRequestHandler):
    """/echo answers what it received as JSON; /status/<n> answers n; /text, /binary; /token is OAuth."""

    def log_message(self, *args):  # keep the test output clean
        return None

    def _answer(self, status: int, body: bytes, content_type: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Multi", "one")
        self.send_header("X-Multi", "two")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        path, _, query = self.path.partition("?")
        if path == "/echo":
            seen = {"method": self.command, "path": path, "query": query, "headers": dict(self.headers.items()),
                    "body": body}
            self._answer(200, json.dumps(seen).encode(), "application/json")
        elif path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            self._answer(status, json.dumps({"message": f"status {status}"}).encode(), "application/json")
        elif path == "/text":
            self._answer(201, b"plain words", "text/plain; charset=utf-8")
        elif path == "/binary":
            self._answer(200, b"\x00\x01", "application/octet-stream")
        elif path == "/token":
            auth = self.headers.get("Authorization", "")
            form = urllib.parse.parse_qs(body)
            if auth == "Basic " + base64.b64encode(b"client:shh").decode() and form.get("grant_type") == \
                    ["client_credentials"] and form.get("audience") == ["api"]:
                self._answer(200, b'{"access_token": "tok-123", "token_type": "Bearer"}', "application/json")
            else:
                self._answer(401, b'{"error": "invalid_client"}', "application/json")
        else:
            self._answer(404, b"no such path", "text/plain")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def connections(base: str) -> dict[str, str]:
    """Airflow connections (as environment variables) standing for three EventBridge connections."""
    basic = {"conn_type": "http", "login": "user", "password": "pw",
             "extra": {"Header-Param": "connection", "query_parameters": {"QueryParam": "connection"},
                       "body_parameters": {"BodyParam": "connection"}}}
    api_key = {"conn_type": "http", "password": "secret-key", "extra": {"api_key_name": "x-api-key"}}
    oauth = {"conn_type": "http", "password": "shh", "extra": {"oauth": {
        "authorization_endpoint": f"{base}/token", "client_id": "client", "body_parameters": {"audience": "api"}}}}
    return {f"AIRFLOW_CONN_{name.upper()}": json.dumps(conn)
            for name, conn in (("basic_api", basic), ("key_api", api_key), ("oauth_api", oauth))}


def _task(name: str, parameters: dict, next_state: str, catch: str | None = None) -> dict:
    state = {"Type": "Task", "Resource": INVOKE, "Parameters": parameters, "ResultPath": f"$.{name}",
             "Next": next_state}
    if catch:
        state["Catch"] = [{"ErrorEquals": [catch], "ResultPath": f"$.{name}", "Next": next_state}]
    return state


def machine(base: str) -> dict:
    steps = [
        ("json_post", {"ApiEndpoint": f"{base}/echo?fixed=1", "Method": "POST",
                       "Authentication": {"ConnectionArn": ARN.format("basic_api")},
                       "Headers": {"X-Trace": "t-1", "Header-Param": "task"},
                       "QueryParameters": {"q": "a b&c", "multi": ["1", "2"], "QueryParam": "task"},
                       "RequestBody": {"Job": "Engineer", "BodyParam": "task", "n.$": "$.n"}}, None),
        ("form_post", {"ApiEndpoint": f"{base}/echo", "Method": "POST",
                       "InvocationConfig": {"ConnectionArn": ARN.format("key_api")},
                       "Headers": {"Content-Type": "application/x-www-form-urlencoded"},
                       "RequestBody": {"description": "Monthly subscription", "metadata": {"order": "r 1"},
                                       "array": ["a", "b"]},
                       "Transform": {"RequestBodyEncoding": "URL_ENCODED",
                                     "RequestEncodingOptions": {"ArrayFormat": "BRACKETS"}}}, None),
        ("oauth_get", {"ApiEndpoint": f"{base}/echo", "Method": "GET",
                       "Authentication": {"ConnectionArn": ARN.format("oauth_api")}}, None),
        ("text_get", {"ApiEndpoint": f"{base}/text", "Method": "GET",
                      "Authentication": {"ConnectionArn": ARN.format("key_api")}}, None),
        ("not_found", {"ApiEndpoint": f"{base}/status/404", "Method": "DELETE",
                       "Authentication": {"ConnectionArn": ARN.format("key_api")}}, "States.Http.StatusCode.404"),
        ("forbidden_header", {"ApiEndpoint": f"{base}/echo", "Method": "GET",
                              "Authentication": {"ConnectionArn": ARN.format("key_api")},
                              "Headers": {"Authorization": "Bearer mine"}}, "States.Runtime"),
        ("binary", {"ApiEndpoint": f"{base}/binary", "Method": "GET",
                    "Authentication": {"ConnectionArn": ARN.format("key_api")}}, "States.Runtime"),
        ("no_connection", {"ApiEndpoint": f"{base}/echo", "Method": "GET",
                           "Authentication": {"ConnectionArn": ARN.format("nobody")}},
         "Events.ConnectionResource.ResourceNotFound"),
        ("refused", {"ApiEndpoint": f"http://127.0.0.1:{_closed_port()}/x", "Method": "GET",
                     "Authentication": {"ConnectionArn": ARN.format("key_api")}}, "States.Http.Socket"),
    ]
    states = {}
    for i, (name, parameters, catch) in enumerate(steps):
        states[name] = _task(name, parameters, steps[i + 1][0] if i + 1 < len(steps) else "Done", catch)
    states["Done"] = {"Type": "Succeed"}
    return {"StartAt": steps[0][0], "States": states}


@pytest.fixture(scope="module")
def runs(server, environment):
    with environment(connections(server)):
        return {engine: asl_airflow.run(machine(server), {"n": 7}, engine=engine, history=True)
                for engine in ("local", "airflow")}


ENGINES = ["local", "airflow"]


def _seen(output: dict, name: str) -> dict:
    return output[name]["ResponseBody"]


@pytest.mark.parametrize("engine", ENGINES)
def test_run_succeeds(runs, engine):
    assert runs[engine]["status"] == "SUCCEEDED", runs[engine]


@pytest.mark.parametrize("engine", ENGINES)
def test_output_shape(runs, engine):
    out = runs[engine]["output"]["json_post"]
    assert list(out) == ["Headers", "ResponseBody", "StatusCode", "StatusText"]
    assert (out["StatusCode"], out["StatusText"]) == (200, "OK")
    assert out["Headers"]["X-Multi"] == ["one", "two"]  # every value, as a list
    assert out["Headers"]["Content-Type"] == ["application/json"]
    text = runs[engine]["output"]["text_get"]
    assert (text["StatusCode"], text["StatusText"], text["ResponseBody"]) == (201, "Created", "plain words")


@pytest.mark.parametrize("engine", ENGINES)
def test_json_request_with_basic_auth_and_connection_parameters(runs, engine):
    seen = _seen(runs[engine]["output"], "json_post")
    headers = seen["headers"]
    assert seen["method"] == "POST"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"user:pw").decode()
    assert headers["Header-Param"] == "connection" and headers["X-Trace"] == "t-1"  # the connection wins
    assert headers["Content-Type"] == "application/json; charset=UTF-8"
    assert headers["User-Agent"] == "Amazon|StepFunctions|HttpInvoke|us-east-1"
    assert headers["Range"] == "bytes=0-262144"
    assert urllib.parse.parse_qsl(seen["query"]) == [("fixed", "1"), ("q", "a b&c"), ("multi", "1"), ("multi", "2"),
                                                     ("QueryParam", "connection")]
    assert "q=a%20b%26c" in seen["query"]
    assert json.loads(seen["body"]) == {"Job": "Engineer", "BodyParam": "connection", "n": 7}
    assert " " not in seen["body"]  # compact JSON, as Step Functions serialises it


@pytest.mark.parametrize("engine", ENGINES)
def test_url_encoded_body_with_api_key(runs, engine):
    seen = _seen(runs[engine]["output"], "form_post")
    assert seen["headers"]["x-api-key"] == "secret-key"
    assert "Authorization" not in seen["headers"]
    assert seen["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen["body"] == ("description=Monthly%20subscription&metadata%5Border%5D=r%201"
                            "&array%5B%5D=a&array%5B%5D=b")


@pytest.mark.parametrize("engine", ENGINES)
def test_oauth_client_credentials(runs, engine):
    seen = _seen(runs[engine]["output"], "oauth_get")
    assert seen["headers"]["Authorization"] == "Bearer tok-123"
    assert seen["body"] == ""


@pytest.mark.parametrize("engine", ENGINES)
def test_status_error_carries_the_response(runs, engine):
    error = runs[engine]["output"]["not_found"]
    assert error["Error"] == "States.Http.StatusCode.404"
    cause = json.loads(error["Cause"])
    assert cause["StatusCode"] == 404 and cause["StatusText"] == "Not Found"
    assert cause["ResponseBody"] == {"message": "status 404"}


@pytest.mark.parametrize("engine", ENGINES)
def test_refusals(runs, engine):
    out = runs[engine]["output"]
    assert out["forbidden_header"]["Error"] == "States.Runtime"
    assert "'Authorization' cannot be set" in out["forbidden_header"]["Cause"]
    assert out["binary"]["Error"] == "States.Runtime"
    assert "application/octet-stream" in out["binary"]["Cause"]
    assert out["no_connection"]["Error"] == "Events.ConnectionResource.ResourceNotFound"
    assert "'nobody'" in out["no_connection"]["Cause"]
    assert out["refused"]["Error"] == "States.Http.Socket"


def test_both_engines_agree(runs):
    assert [e["type"] for e in runs["local"]["history"]] == [e["type"] for e in runs["airflow"]["history"]]

    def stable(output):
        out = {}
        for key, value in output.items():
            if isinstance(value, dict) and "Headers" in value:
                value = {k: v for k, v in value.items() if k != "Headers"}
                if isinstance(value.get("ResponseBody"), dict) and "headers" in value["ResponseBody"]:
                    value["ResponseBody"] = {**value["ResponseBody"], "headers": None}
            elif isinstance(value, dict) and key == "refused":
                value = {"Error": value["Error"]}
            elif isinstance(value, dict) and key == "not_found":
                value = {"Error": value["Error"], "Body": json.loads(value["Cause"])["ResponseBody"]}
            out[key] = value
        return out

    assert stable(runs["local"]["output"]) == stable(runs["airflow"]["output"])
