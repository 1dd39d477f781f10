"""What the HTTP Task (``http:invoke``) and API Gateway (``apigateway:invoke``) share: building the
request from a Task's Parameters and shaping the response as Step Functions returns it.

Not an entry module (the leading underscore keeps the table from collecting it). The response
shape is the one AWS records for ``apigateway:invoke``: ``{"Headers": {name: [values]},
"ResponseBody": ..., "StatusCode": 200, "StatusText": "OK"}``, header names as the server sent them,
every header's values as a list, and the body parsed when it is JSON. Reading is bounded: a response
larger than Step Functions' 256 KiB payload fails with ``States.DataLimitExceeded`` instead of
filling the worker's memory.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from asl_airflow.asl import errors as asl_errors
from asl_airflow.asl.errors import AslError

METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"})
#: Step Functions' payload quota, and the most of a response it reads
MAX_RESPONSE_BYTES = asl_errors.PAYLOAD_LIMIT_BYTES
#: an HTTP Task request times out after 60 seconds (AWS's documented limit); API Gateway's is 29 s
#: on AWS's side, so the same bound covers both
TIMEOUT_SECONDS = 60


def compact(value: Any) -> str:
    """JSON text as Step Functions serialises a request body (no spaces)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def runtime(message: str) -> AslError:
    return AslError(asl_errors.RUNTIME, message)


def parameters_error(parameters: Any, problem: str) -> AslError:
    """``States.Runtime`` worded as Step Functions words a Parameters value it cannot use."""
    return runtime(f"The Parameters '{compact(parameters)}' could not be used to start the Task: [{problem}]")


def request_fields(call: Any, method_problem: str) -> tuple[dict[str, Any], str]:
    """The Task's Parameters (an object) and its upper-cased Method, with ``ApiEndpoint`` and
    ``Method`` present: what both HTTP-shaped Tasks check first. ``method_problem`` is how the
    Task words a Method outside :data:`METHODS` (the two are worded differently by AWS)."""
    parameters = call.parameters if isinstance(call.parameters, dict) else None
    if parameters is None:
        raise runtime(f"{call.resource}: Parameters must be a JSON object")
    for field in ("ApiEndpoint", "Method"):
        if not isinstance(parameters.get(field), str) or not parameters[field]:
            raise parameters_error(parameters, f"The field '{field}' is required")
    method = parameters["Method"].upper()
    if method not in METHODS:
        raise parameters_error(parameters, method_problem)
    return parameters, method


def add_query(url: str, pairs: list[tuple[str, str]]) -> str:
    """``url`` with ``pairs`` appended to its query string, each URL-encoded."""
    if not pairs:
        return url
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)
    joined = f"{parts.query}&{query}" if parts.query else query
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, joined, parts.fragment))


def scalar_text(value: Any) -> str:
    """A JSON scalar as text in a query string, form body or header (``true``, ``1.5``, ``""`` for null)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return compact(value)


def send(session: Any, method: str, url: str, headers: dict[str, str], body: bytes | None, network_error: str,
         hook: Any = None) -> tuple[Any, bytes]:
    """Send one request and return the response with its body read (bounded).

    With the HTTP provider's ``hook``, the request goes through ``hook.run_and_check`` on the hook's
    session (its TLS, proxy, redirect and auth settings apply); without one, on ``session`` as it is.
    A network failure or timeout is the ASL error ``network_error``."""
    import requests

    prepared = session.prepare_request(requests.Request(method, url, headers=headers, data=body))
    try:
        if hook is not None:
            response = hook.run_and_check(session, prepared, {
                **getattr(hook, "merged_extra", {}), "check_response": False, "timeout": TIMEOUT_SECONDS})
        else:
            response = session.send(prepared, timeout=TIMEOUT_SECONDS, stream=True)
        content = _read_bounded(response)
    except requests.exceptions.RequestException as exc:
        raise AslError(network_error, f"{type(exc).__name__}: {exc}") from exc
    return response, content


def _read_bounded(response: Any) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=64 * 1024):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            response.close()
            raise AslError(asl_errors.DATA_LIMIT_EXCEEDED,
                           f"The response from {response.url} is larger than {MAX_RESPONSE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def response_headers(response: Any) -> dict[str, list[str]]:
    """Every header with all its values, names as the server sent them (requests joins repeats)."""
    raw = getattr(response.raw, "headers", None)
    if raw is not None and hasattr(raw, "getlist"):
        out: dict[str, list[str]] = {}
        for name in raw:
            if name not in out:
                out[name] = [str(v) for v in raw.getlist(name)]
        return out
    return {name: [value] for name, value in response.headers.items()}


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def response_body(content: bytes, content_type: str, parse: bool) -> Any:
    """The body as text, parsed when ``parse`` and it is JSON text (else the text itself)."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise runtime("The response body cannot be read as text") from None
    if parse and text:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def output(response: Any, body: Any) -> dict[str, Any]:
    return {"Headers": response_headers(response), "ResponseBody": body, "StatusCode": response.status_code,
            "StatusText": response.reason or ""}
