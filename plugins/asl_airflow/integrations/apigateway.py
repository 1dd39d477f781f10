"""Amazon API Gateway: ``arn:aws:states:::apigateway:invoke`` (request-response and
``.waitForTaskToken``, the latter through the generic wrapper in ``callbacks.py``).

As AWS documents and records it: the URL is ``https://<ApiEndpoint>/<Stage>/<Path>`` (``ApiEndpoint``
is the host ``<api-id>.execute-api.<region>.amazonaws.com``; an ``ApiEndpoint`` that carries its own
``http://`` or ``https://`` scheme is used as the base as written, which is how a local or private
endpoint is reached here), ``Headers`` and ``QueryParameters`` are objects whose values are lists
(a single string is refused: ``States.Runtime``, "The value of the field 'Headers' has an invalid
format"), the forbidden headers (``Authorization``, ``Host``, ``X-Amz*``, ...) are refused,
``RequestBody`` (JSON, sent compact, or a string sent as it is) goes with PATCH, POST and PUT only,
and its null fields are dropped unless ``AllowNullValues`` is true.

``AuthType``: ``NO_AUTH`` (default) sends the request as it is; ``IAM_ROLE`` and ``RESOURCE_POLICY``
sign it with Signature Version 4 (service ``execute-api``, botocore's signer) using the credentials
of the AWS connection, which stands for the state machine's role here (AWS signs a RESOURCE_POLICY
call as the Step Functions service principal, which no Airflow deployment can).

The output is ``{"Headers", "ResponseBody", "StatusCode", "StatusText"}`` (header values as lists,
the body parsed when it is JSON); a status outside 2xx fails the Task with ``ApiGateway.<status>``
and the response body as the cause (``ApiGateway.403`` / ``{"message":"Missing Authentication
Token"}``), and a call that gets no status (network failure, 60-second timeout) fails with
``ApiGateway.SdkClientException``.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import _http
from asl_airflow.integrations.base import REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN, Integration, ServiceCall

_PREFIX = "ApiGateway"
FORBIDDEN_HEADERS = frozenset({
    "authorization", "connection", "content-md5", "expect", "host", "max-forwards", "proxy-authenticate",
    "server", "te", "transfer-encoding", "trailer", "upgrade", "via", "www-authenticate",
})
_FORBIDDEN_PREFIXES = ("x-forwarded", "x-amz")
_WITH_BODY = frozenset({"PATCH", "POST", "PUT"})
AUTH_TYPES = frozenset({"NO_AUTH", "IAM_ROLE", "RESOURCE_POLICY"})
_REGION_IN_HOST = re.compile(r"\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com")


def list_values(parameters: dict[str, Any], field: str) -> list[tuple[str, str]]:
    """``Headers`` / ``QueryParameters``: an object whose every value is a list of strings."""
    value = parameters.get(field)
    if value is None:
        return []
    if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
        raise _http.parameters_error(parameters, f"The value of the field '{field}' has an invalid format")
    return [(key, _http.scalar_text(item)) for key, items in value.items() for item in items]


def without_nulls(value: Any) -> Any:
    """The request body without its null fields (``AllowNullValues`` false, AWS's default)."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def url_for(parameters: dict[str, Any]) -> str:
    endpoint = parameters["ApiEndpoint"].rstrip("/")
    base = endpoint if re.match(r"^https?://", endpoint) else f"https://{endpoint}"
    parts = [base]
    for field in ("Stage", "Path"):
        value = parameters.get(field)
        if value not in (None, ""):
            if not isinstance(value, str):
                raise _http.parameters_error(parameters, f"The value of the field '{field}' has an invalid format")
            parts.append(value.strip("/"))
    return "/".join(parts)


def _sign(call: ServiceCall, method: str, url: str, headers: dict[str, str], body: bytes | None) -> dict[str, str]:
    """The headers with a SigV4 signature for ``execute-api``, made with the AWS connection's credentials."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    hook = AwsBaseHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name)
    host_region = _REGION_IN_HOST.search(urllib.parse.urlsplit(url).netloc)
    region = host_region.group("region") if host_region else (hook.region_name or "us-east-1")
    request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
    SigV4Auth(hook.get_credentials(region_name=region), "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def _start(call: ServiceCall, context: Any) -> Any:
    parameters, method = _http.request_fields(call, "The value of the field 'Method' has an invalid format")
    auth_type = parameters.get("AuthType") or "NO_AUTH"
    if auth_type not in AUTH_TYPES:
        raise _http.parameters_error(parameters, "The value of the field 'AuthType' has an invalid format")
    headers: dict[str, str] = {}
    for name, value in list_values(parameters, "Headers"):
        lower = name.lower()
        if lower in FORBIDDEN_HEADERS or lower.startswith(_FORBIDDEN_PREFIXES):
            raise _http.runtime(f"The header {name!r} cannot be set in an API Gateway Task")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    url = _http.add_query(url_for(parameters), list_values(parameters, "QueryParameters"))

    data: bytes | None = None
    body = parameters.get("RequestBody")
    if method in _WITH_BODY and body is not None:
        if not parameters.get("AllowNullValues"):
            body = without_nulls(body)
        if isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = _http.compact(body).encode("utf-8")
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
    if auth_type != "NO_AUTH":
        headers = _sign(call, method, url, headers, data)

    import requests

    with requests.Session() as session:
        response, content = _http.send(session, method, url, headers, data, f"{_PREFIX}.SdkClientException")
    content_type = response.headers.get("Content-Type", "")
    if not 200 <= response.status_code < 300:
        raise AslError(f"{_PREFIX}.{response.status_code}", content.decode("utf-8", errors="replace"))
    return _http.output(response, _http.response_body(content, content_type, _http.is_json(content_type)))


INVOKE = Integration("apigateway", "invoke", frozenset({REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN}), _PREFIX, _start)

ENTRIES = (INVOKE,)
