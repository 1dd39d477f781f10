"""The HTTP Task: ``arn:aws:states:::http:invoke`` (request-response, as on AWS).

The request is built as AWS documents it (developer guide, "Call HTTPS APIs"): ``Method`` (GET, POST,
PUT, DELETE, PATCH, OPTIONS, HEAD), ``ApiEndpoint`` plus ``QueryParameters`` (URL-encoded),
``Headers`` (the documented forbidden ones, such as ``Authorization`` or ``x-amz-*``, fail with
``States.Runtime``), ``RequestBody`` sent as compact JSON (a string as it is) with
``Content-Type: application/json; charset=UTF-8`` unless a content type is given, and ``Transform``
``RequestBodyEncoding: URL_ENCODED`` with ``RequestEncodingOptions.ArrayFormat`` INDICES (default),
REPEAT, COMMAS or BRACKETS (nested objects as ``a[b]=``). ``User-Agent:
Amazon|StepFunctions|HttpInvoke|<region>`` and ``Range: bytes=0-262144`` are set as AWS sets them.

``Authentication.ConnectionArn`` (or ``InvocationConfig.ConnectionArn``) names an EventBridge
connection, ``arn:aws:events:<region>:<account>:connection/<name>/<id>``; here it names the Airflow
connection ``<name>`` (type ``http``), read through the HTTP provider's ``HttpHook``, which also gives
the session its TLS, proxy and timeout settings. What an EventBridge connection holds maps to it so:

- BASIC: the connection's login and password (``HttpHook``'s own basic auth);
- API_KEY: extra ``api_key_name`` (the header) and the key in the password (or extra ``api_key_value``);
- OAUTH_CLIENT_CREDENTIALS: extra ``oauth``: ``{"authorization_endpoint", "http_method" (POST),
  "client_id", "client_secret" (or the password), "body_parameters", "query_parameters",
  "header_parameters"}``; the token (``access_token`` of the JSON answer, ``grant_type`` defaulting to
  ``client_credentials``) is sent as ``Authorization: Bearer``;
- invocation parameters: every other extra key is a header (``HttpHook``'s rule), extra
  ``query_parameters`` and ``body_parameters`` are objects; as on AWS, the connection's values win
  over the Task's on the same key, and a string ``RequestBody`` cannot take body parameters.

``auth_type`` in the extra forces one of BASIC / API_KEY / OAUTH_CLIENT_CREDENTIALS; otherwise it
follows from what is present. A missing connection is ``Events.ConnectionResource.ResourceNotFound``,
a failed OAuth token request ``Events.ConnectionResource.InvalidConnectionState``.

The output is ``{"Headers", "ResponseBody", "StatusCode", "StatusText"}`` (the body parsed when the
response is JSON). A status outside 2xx fails the Task with ``States.Http.StatusCode.<code>`` and that
output as JSON text for the cause; a network failure or the 60-second timeout is
``States.Http.Socket``; a binary response (``application/octet-stream``, ``image/*``, ``video/*``,
``audio/*``) is ``States.Runtime``, as AWS documents.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import _http
from asl_airflow.integrations.base import REQUEST_RESPONSE, Integration, ServiceCall

FORBIDDEN_HEADERS = frozenset({
    "a-im", "accept-charset", "accept-datetime", "accept-encoding", "authorization", "cache-control",
    "connection", "content-encoding", "content-md5", "date", "expect", "forwarded", "from", "host",
    "http2-settings", "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
    "max-forwards", "origin", "pragma", "proxy-authorization", "referer", "server", "te", "trailer",
    "transfer-encoding", "upgrade", "via", "warning",
})
_FORBIDDEN_PREFIXES = ("x-forwarded-", "x-amz-", "x-amzn-")
ARRAY_FORMATS = frozenset({"INDICES", "REPEAT", "COMMAS", "BRACKETS"})
_UNSUPPORTED_MEDIA = ("application/octet-stream", "image/", "video/", "audio/")
_CONNECTION_ARN = re.compile(r"^arn:[^:]+:events:[^:]*:[^:]*:connection/(?P<name>[^/]+)(?:/.*)?$")
#: extra keys of the Airflow connection that configure the call and are not headers
RESERVED_EXTRA = frozenset({"auth_type", "api_key_name", "api_key_value", "oauth", "query_parameters",
                            "body_parameters"})
#: extra keys HttpHook itself reads as options (not headers)
_HOOK_OPTIONS = frozenset({"stream", "cert", "proxies", "proxy", "timeout", "verify", "verify_ssl",
                           "allow_redirects", "max_redirects", "trust_env", "check_response", "srv_lookup"})
SOCKET = "States.Http.Socket"
_RESOURCE_NOT_FOUND = "Events.ConnectionResource.ResourceNotFound"
_INVALID_STATE = "Events.ConnectionResource.InvalidConnectionState"


def connection_id(arn: Any) -> str:
    """The Airflow connection id for an EventBridge connection ARN (its name)."""
    match = _CONNECTION_ARN.match(arn) if isinstance(arn, str) else None
    if not match:
        raise _http.runtime(f"ConnectionArn {arn!r} is not an EventBridge connection ARN "
                            "(arn:aws:events:<region>:<account>:connection/<name>/<id>)")
    return match.group("name")


# -- the request ----------------------------------------------------------------------------------


def definition_headers(parameters: dict[str, Any]) -> dict[str, str]:
    headers = parameters.get("Headers")
    if headers is None:
        return {}
    if not isinstance(headers, dict):
        raise _http.parameters_error(parameters, "The value of the field 'Headers' has an invalid format")
    out: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower in FORBIDDEN_HEADERS or lower.startswith(_FORBIDDEN_PREFIXES):
            raise _http.runtime(f"The header {name!r} cannot be set in an HTTP Task")
        values = value if isinstance(value, list) else [value]
        out[name] = ",".join(_http.scalar_text(v) for v in values)
    return out


def query_pairs(value: Any, parameters: dict[str, Any]) -> list[tuple[str, str]]:
    """``QueryParameters`` as (key, value) pairs: an object (a list value repeats its key) or a string."""
    if value is None:
        return []
    if isinstance(value, str):
        return urllib.parse.parse_qsl(value.lstrip("?"), keep_blank_values=True)
    if isinstance(value, dict):
        pairs = []
        for key, item in value.items():
            for one in item if isinstance(item, list) else [item]:
                pairs.append((key, _http.scalar_text(one)))
        return pairs
    raise _http.parameters_error(parameters, "The value of the field 'QueryParameters' has an invalid format")


def _override(pairs: list[tuple[str, str]], winners: dict[str, Any]) -> list[tuple[str, str]]:
    """``pairs`` with the keys of ``winners`` replaced by the connection's values (AWS's merge rule)."""
    kept = [(k, v) for k, v in pairs if k not in winners]
    return kept + [(k, _http.scalar_text(v)) for k, v in winners.items()]


def form_encode(body: dict[str, Any], array_format: str) -> str:
    """A JSON object as ``application/x-www-form-urlencoded`` text (``a[b]=`` for nested objects)."""
    pairs: list[tuple[str, str]] = []

    def walk(value: Any, key: str) -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                walk(item, f"{key}[{name}]" if key else str(name))
        elif isinstance(value, list):
            if array_format == "COMMAS" and not any(isinstance(v, dict | list) for v in value):
                pairs.append((key, ",".join(urllib.parse.quote(_http.scalar_text(v), safe="") for v in value)))
                return
            for index, item in enumerate(value):
                walk(item, {"INDICES": f"{key}[{index}]", "BRACKETS": f"{key}[]"}.get(array_format, key))
        else:
            pairs.append((key, urllib.parse.quote(_http.scalar_text(value), safe="")))

    walk(body, "")
    return "&".join(f"{urllib.parse.quote(k, safe='')}={v}" for k, v in pairs)


def _transform(parameters: dict[str, Any]) -> tuple[bool, str]:
    transform = parameters.get("Transform")
    if transform is None:
        return False, "INDICES"
    if not isinstance(transform, dict):
        raise _http.parameters_error(parameters, "The value of the field 'Transform' has an invalid format")
    encoding = transform.get("RequestBodyEncoding", "NONE")
    if encoding not in ("NONE", "URL_ENCODED"):
        raise _http.parameters_error(parameters, f"RequestBodyEncoding must be NONE or URL_ENCODED, not {encoding!r}")
    options = transform.get("RequestEncodingOptions") or {}
    array_format = options.get("ArrayFormat", "INDICES") if isinstance(options, dict) else None
    if array_format not in ARRAY_FORMATS:
        raise _http.parameters_error(parameters, f"ArrayFormat must be one of {', '.join(sorted(ARRAY_FORMATS))}")
    return encoding == "URL_ENCODED", array_format


def _region(call: ServiceCall) -> str:
    arns = call.extra.get("execution_arns") or []
    parts = arns[0].split(":") if arns else []
    return parts[3] if len(parts) > 3 and parts[3] else (call.region_name or "us-east-1")


def _oauth_token(session: Any, hook: Any, oauth: Any, password: str | None) -> str:
    if not isinstance(oauth, dict) or not oauth.get("authorization_endpoint"):
        raise AslError(_INVALID_STATE, "extra 'oauth' needs an 'authorization_endpoint'")
    body = {"grant_type": "client_credentials", **(oauth.get("body_parameters") or {})}
    url = _http.add_query(oauth["authorization_endpoint"],
                          [(k, _http.scalar_text(v)) for k, v in (oauth.get("query_parameters") or {}).items()])
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               **{k: _http.scalar_text(v) for k, v in (oauth.get("header_parameters") or {}).items()}}
    import requests

    client = (oauth.get("client_id") or "", oauth.get("client_secret") or password or "")
    request = requests.Request((oauth.get("http_method") or "POST").upper(), url, headers=headers,
                               data=urllib.parse.urlencode({k: _http.scalar_text(v) for k, v in body.items()}),
                               auth=client)
    try:
        response = hook.run_and_check(session, session.prepare_request(request),
                                      {"check_response": False, "timeout": _http.TIMEOUT_SECONDS})
        token = response.json().get("access_token") if response.ok else None
    except (requests.exceptions.RequestException, ValueError, AttributeError) as exc:
        raise AslError(_INVALID_STATE, f"The OAuth token request to {url} failed: {exc}") from exc
    if not token:
        raise AslError(_INVALID_STATE, f"The OAuth token request to {url} answered {response.status_code} "
                       "without an access_token")
    return str(token)


def _start(call: ServiceCall, context: Any) -> Any:
    parameters, method = _http.request_fields(
        call, f"The value of the field 'Method' is not one of {', '.join(sorted(_http.METHODS))}")
    endpoint = parameters["ApiEndpoint"]
    if urllib.parse.urlsplit(endpoint).scheme not in ("http", "https"):
        raise _http.parameters_error(parameters, "The value of the field 'ApiEndpoint' is not an http(s) URL")
    config = parameters.get("InvocationConfig") or parameters.get("Authentication")
    if not isinstance(config, dict) or "ConnectionArn" not in config:
        raise _http.parameters_error(parameters, "The field 'Authentication.ConnectionArn' is required")
    conn_id = connection_id(config["ConnectionArn"])
    headers = definition_headers(parameters)
    pairs = query_pairs(parameters.get("QueryParameters"), parameters)
    form, array_format = _transform(parameters)

    from airflow.providers.http.hooks.http import HttpHook

    hook = HttpHook(method=method, http_conn_id=conn_id)
    try:
        connection = hook.get_connection(conn_id)
        session = hook.get_conn(extra_options={"stream": True})
    except Exception as exc:
        if type(exc).__name__ == "AirflowNotFoundException":
            raise AslError(_RESOURCE_NOT_FOUND, f"No Airflow connection {conn_id!r} for the EventBridge connection "
                           f"{config['ConnectionArn']}") from exc
        raise
    extra = connection.extra_dejson
    for key in RESERVED_EXTRA:  # HttpHook made every extra key a header; these configure the call
        session.headers.pop(key, None)

    # the connection's invocation parameters win over the Task's (AWS's merge rule)
    merged = {k: v for k, v in headers.items()
              if k.lower() not in {n.lower() for n in extra if n not in RESERVED_EXTRA | _HOOK_OPTIONS}}
    pairs = _override(pairs, extra.get("query_parameters") or {})
    body: Any = parameters.get("RequestBody")
    body_parameters = extra.get("body_parameters") or {}
    if body_parameters:
        if isinstance(body, str):
            raise _http.runtime("The RequestBody is a string, so the connection's body parameters cannot be "
                                "merged into it")
        body = {**(body if isinstance(body, dict) else {}), **body_parameters}

    auth_type = extra.get("auth_type") or ("API_KEY" if extra.get("api_key_name") else
                                           "OAUTH_CLIENT_CREDENTIALS" if extra.get("oauth") else
                                           "BASIC" if connection.login else None)
    if auth_type == "API_KEY":
        session.auth = None
        merged[str(extra.get("api_key_name") or "x-api-key")] = str(extra.get("api_key_value") or
                                                                     connection.password or "")
    elif auth_type == "OAUTH_CLIENT_CREDENTIALS":
        session.auth = None
        merged["Authorization"] = f"Bearer {_oauth_token(session, hook, extra.get('oauth'), connection.password)}"

    data: bytes | None = None
    if body is not None and method != "HEAD":
        if form and isinstance(body, dict):
            data = form_encode(body, array_format).encode("utf-8")
            default_type = "application/x-www-form-urlencoded"
        else:
            data = (body if isinstance(body, str) else _http.compact(body)).encode("utf-8")
            default_type = "application/json; charset=UTF-8"
        if not any(k.lower() == "content-type" for k in (*merged, *session.headers)):
            merged["Content-Type"] = default_type
    merged["User-Agent"] = f"Amazon|StepFunctions|HttpInvoke|{_region(call)}"
    merged["Range"] = f"bytes=0-{_http.MAX_RESPONSE_BYTES}"

    url = _http.add_query(endpoint, pairs)
    response, content = _http.send(session, method, url, merged, data, SOCKET, hook=hook)
    content_type = response.headers.get("Content-Type", "")
    if content_type.split(";", 1)[0].strip().lower().startswith(_UNSUPPORTED_MEDIA):
        raise _http.runtime(f"The HTTP Task does not support the response content type {content_type!r}")
    result = _http.output(response, _http.response_body(content, content_type, _http.is_json(content_type)))
    if not 200 <= response.status_code < 300:
        raise AslError(f"States.Http.StatusCode.{response.status_code}", _http.compact(result))
    return result


INVOKE = Integration("http", "invoke", frozenset({REQUEST_RESPONSE}), "States.Http", _start)

ENTRIES = (INVOKE,)
