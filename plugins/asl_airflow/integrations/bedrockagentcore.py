"""Amazon Bedrock AgentCore: ``arn:aws:states:::bedrockagentcore:invokeHarness`` (request-response).

InvokeHarness runs an agent (model inference, tool use, several turns) and streams its work back as
events. Step Functions documents what its optimized integration makes of that stream, and this
module does the same:

- the answer is Converse-shaped, ``{"Output": {"Message": {"Role", "Content"}}, "StopReason",
  "Usage", "Metrics"}``, in Step Functions' PascalCase (a state reads
  ``$states.result.Output.Message.Content[0].Text``);
- only the last assistant message is kept, earlier turns are dropped;
- only its text content: tool use, tool results and reasoning blocks are left out;
- the token usage (``InputTokens``, ``OutputTokens``, ``TotalTokens``) is summed over the whole
  conversation; ``Metrics.LatencyMs`` likewise;
- the call lasts at most 15 minutes (900 s) whatever the state's TimeoutSeconds: past that the Task
  fails ``States.Timeout`` (the harness itself goes on to its own timeout, as on AWS).

Arguments/Parameters are the API's members in PascalCase (``HarnessArn``, ``RuntimeSessionId``,
``Messages``, ``SystemPrompt``, ``Tools``, ``MaxIterations``, ``TimeoutSeconds``), renamed by botocore's
model; others are dropped. The call goes through an ``AwsBaseHook`` client for ``bedrock-agentcore``
(the Amazon provider has no AgentCore harness hook). Errors are ``BedrockAgentCore.<Exception>``, as
AWS's own sample catches them (``BedrockAgentCore.ThrottlingException``,
``BedrockAgentCore.InternalServerException``): an HTTP error by its modelled class, an error event in
the stream (``validationException``, ``internalServerException``, ``runtimeClientError``) by its
type, capitalised; anything else is ``BedrockAgentCore.BedrockAgentCoreException``.
"""

from __future__ import annotations

import time
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import _shapes
from asl_airflow.integrations._optimized import named_errors, refused_request, v1_error
from asl_airflow.integrations.base import REQUEST_RESPONSE, Integration, ServiceCall

_PREFIX, _SERVICE, _GENERIC = "BedrockAgentCore", "BedrockAgentCore", "BedrockAgentCoreException"
#: Step Functions ends an InvokeHarness Task after 15 minutes, whatever its TimeoutSeconds
MAX_SECONDS = 900.0


def agentcore_error(exc: BaseException) -> AslError | None:
    """The Step Functions error for an exception of the call or of its event stream, else None."""
    if type(exc).__name__ == "EventStreamError":  # an error event in the stream: its type is the code
        error = getattr(exc, "response", {}).get("Error", {})
        code = str(error.get("Code") or _GENERIC)
        name = code[:1].upper() + code[1:]
        return AslError(f"{_PREFIX}.{name}", f"{error.get('Message') or code} (Service: {_SERVICE}; "
                        f"Error Code: {name}; in the response stream)")
    return v1_error(exc, _PREFIX, _SERVICE) or refused_request(exc, _PREFIX, _SERVICE, "ValidationException")


def converse_shaped(events: Any, deadline: float | None = None, clock: Any = time.monotonic) -> dict[str, Any]:
    """The integration's answer from the stream's events (dicts keyed by event type, as botocore
    yields them); ``States.Timeout`` once ``clock()`` passes ``deadline``."""
    messages: list[dict[str, Any]] = []
    texts: dict[int, list[str]] = {}
    stop_reason = None
    usage = {"InputTokens": 0, "OutputTokens": 0, "TotalTokens": 0}
    latency: int | None = None
    for event in events:
        if deadline is not None and clock() > deadline:
            raise AslError("States.Timeout", "InvokeHarness ran longer than 15 minutes, the most Step Functions "
                           "waits for it")
        if "messageStart" in event:
            texts = {}
            messages.append({"Role": event["messageStart"].get("role"), "texts": texts})
        elif "contentBlockDelta" in event:
            delta = event["contentBlockDelta"]
            text = (delta.get("delta") or {}).get("text")
            if isinstance(text, str):  # tool use, tool results and reasoning are not kept
                texts.setdefault(int(delta.get("contentBlockIndex") or 0), []).append(text)
        elif "messageStop" in event:
            stop_reason = event["messageStop"].get("stopReason", stop_reason)
        elif "metadata" in event:
            counted = event["metadata"].get("usage") or {}
            for key, name in (("inputTokens", "InputTokens"), ("outputTokens", "OutputTokens"),
                              ("totalTokens", "TotalTokens")):
                usage[name] += int(counted.get(key) or 0)
            metrics = event["metadata"].get("metrics") or {}
            if "latencyMs" in metrics:
                latency = (latency or 0) + int(metrics["latencyMs"])
    last = next((m for m in reversed(messages) if m["Role"] == "assistant"), None)
    content = [{"Text": "".join(parts)} for _, parts in sorted((last or {"texts": {}})["texts"].items())]
    answer: dict[str, Any] = {"Output": {"Message": {"Role": "assistant", "Content": content}},
                              "StopReason": stop_reason, "Usage": usage}
    if latency is not None:
        answer["Metrics"] = {"LatencyMs": latency}
    return answer


def invoke(call: ServiceCall, context: Any) -> Any:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    request = _shapes.known_request("bedrock-agentcore", "InvokeHarness", call.parameters, call.resource)
    client = AwsBaseHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name,
                         client_type="bedrock-agentcore").conn
    deadline = time.monotonic() + MAX_SECONDS
    with named_errors(agentcore_error):
        stream = client.invoke_harness(**request)["stream"]
        try:
            return converse_shaped(stream, deadline)
        finally:
            stream.close()


def error_name(exc: BaseException, call: ServiceCall) -> str | None:
    error = agentcore_error(exc)
    return error.error if error else None


INVOKE_HARNESS = Integration(
    "bedrockagentcore", "invokeHarness", frozenset({REQUEST_RESPONSE}), _PREFIX, invoke, None, error_name,
)

ENTRIES = (INVOKE_HARNESS,)
