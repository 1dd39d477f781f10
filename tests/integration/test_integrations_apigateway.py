"""API Gateway ``apigateway:invoke`` against a local server this test starts, on both engines: the URL
from ApiEndpoint/Stage/Path, list-valued headers and query parameters, null fields dropped unless
AllowNullValues, SigV4 for IAM_ROLE, the output as AWS records it, and ``ApiGateway.<status>``
errors with the response body as the cause."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import asl_airflow
import pytest

INVOKE = "arn:aws:states:::apigateway:invoke"


class _Handler(BaseHTTPRequestHandler):
    """/prod/echo answers what it received; anything else 403 Missing Authentication Token, as API Gateway."""

    def log_message(self, *args):
        return None

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        path, _, query = self.path.partition("?")
        if path.startswith("/prod/echo"):
            status, answer = 200, {"method": self.command, "path": path, "query": query,
                                   "headers": dict(self.headers.items()), "body": body}
        else:
            status, answer = 403, {"message": "Missing Authentication Token"}
        data = json.dumps(answer, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


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


def machine(endpoint: str) -> dict:
    common = {"ApiEndpoint": endpoint, "Stage": "prod"}
    steps = [
        ("post", {**common, "Method": "POST", "Path": "echo/items", "Headers": {"X-Multi": ["a", "b"]},
                  "QueryParameters": {"id": ["1", "2"], "q": ["x y"]},
                  "RequestBody": {"name.$": "$.name", "gone": None, "nested": {"none": None, "k": 1}}}, None),
        ("post_nulls", {**common, "Method": "POST", "Path": "echo", "AllowNullValues": True,
                        "RequestBody": {"gone": None}}, None),
        ("text_body", {**common, "Method": "PUT", "Path": "echo", "RequestBody": "HelloWorld"}, None),
        ("get_signed", {**common, "Method": "GET", "Path": "echo", "AuthType": "IAM_ROLE",
                        "RequestBody": {"ignored": "GET sends no body"}}, None),
        ("missing", {**common, "Method": "POST", "Path": "nothing"}, "ApiGateway.403"),
        ("single_header", {**common, "Method": "GET", "Path": "echo", "Headers": {"X-One": "not a list"}},
         "States.Runtime"),
        ("forbidden", {**common, "Method": "GET", "Path": "echo", "Headers": {"X-Amz-Date": ["x"]}},
         "States.Runtime"),
    ]
    states = {}
    for i, (name, parameters, catch) in enumerate(steps):
        state = {"Type": "Task", "Resource": INVOKE, "Parameters": parameters, "ResultPath": f"$.{name}",
                 "Next": steps[i + 1][0] if i + 1 < len(steps) else "Done"}
        if catch:
            state["Catch"] = [{"ErrorEquals": [catch], "ResultPath": f"$.{name}", "Next": state["Next"]}]
        states[name] = state
    states["Done"] = {"Type": "Succeed"}
    return {"StartAt": steps[0][0], "States": states}


AWS_CONN = json.dumps({"conn_type": "aws", "login": "AKIDEXAMPLE", "password": "secret",
                       "extra": {"region_name": "eu-west-1"}})


@pytest.fixture(scope="module")
def runs(server, environment):
    with environment({"AIRFLOW_CONN_AWS_DEFAULT": AWS_CONN}):
        return {engine: asl_airflow.run(machine(server), {"name": "rex"}, engine=engine, history=True)
                for engine in ("local", "airflow")}


ENGINES = ["local", "airflow"]


@pytest.mark.parametrize("engine", ENGINES)
def test_run_succeeds(runs, engine):
    assert runs[engine]["status"] == "SUCCEEDED", runs[engine]


@pytest.mark.parametrize("engine", ENGINES)
def test_request_and_output(runs, engine):
    out = runs[engine]["output"]["post"]
    assert list(out) == ["Headers", "ResponseBody", "StatusCode", "StatusText"]
    assert (out["StatusCode"], out["StatusText"]) == (200, "OK")
    assert out["Headers"]["Content-Type"] == ["application/json"]
    seen = out["ResponseBody"]
    assert (seen["method"], seen["path"]) == ("POST", "/prod/echo/items")
    assert seen["query"] == "id=1&id=2&q=x%20y"
    assert seen["headers"]["X-Multi"] == "a,b"
    assert json.loads(seen["body"]) == {"name": "rex", "nested": {"k": 1}}  # null fields dropped
    assert json.loads(runs[engine]["output"]["post_nulls"]["ResponseBody"]["body"]) == {"gone": None}
    text = runs[engine]["output"]["text_body"]["ResponseBody"]
    assert (text["method"], text["body"]) == ("PUT", "HelloWorld")


@pytest.mark.parametrize("engine", ENGINES)
def test_iam_role_signs_with_sigv4(runs, engine):
    seen = runs[engine]["output"]["get_signed"]["ResponseBody"]
    authorization = seen["headers"]["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in authorization
    assert seen["headers"]["X-Amz-Date"]
    assert seen["body"] == ""  # RequestBody goes with PATCH, POST and PUT only


@pytest.mark.parametrize("engine", ENGINES)
def test_errors(runs, engine):
    out = runs[engine]["output"]
    assert out["missing"] == {"Error": "ApiGateway.403", "Cause": '{"message":"Missing Authentication Token"}'}
    assert out["single_header"]["Error"] == "States.Runtime"
    assert "The value of the field 'Headers' has an invalid format" in out["single_header"]["Cause"]
    assert out["forbidden"]["Error"] == "States.Runtime"


def test_both_engines_agree(runs):
    assert [e["type"] for e in runs["local"]["history"]] == [e["type"] for e in runs["airflow"]["history"]]

    def stable(output):
        def body(value):
            if isinstance(value, dict) and "ResponseBody" in value:
                response = value["ResponseBody"]
                headers = {k: v for k, v in response["headers"].items()
                           if k not in ("Authorization", "X-Amz-Date", "User-Agent")}
                return {**value, "Headers": None, "ResponseBody": {**response, "headers": headers}}
            return value

        return {key: body(value) for key, value in output.items()}

    assert stable(runs["local"]["output"]) == stable(runs["airflow"]["output"])
