"""A small Amazon Bedrock AgentCore endpoint for InvokeHarness (moto has no AgentCore).

It speaks what botocore sends and reads: ``POST /harnesses/invoke`` with a JSON body, answered with
an ``application/vnd.amazon.eventstream`` body of binary event-stream messages (prelude with the
total and header lengths and its CRC32, string headers ``:message-type``, ``:event-type`` or
``:exception-type``, ``:content-type``, a JSON payload, the message CRC32). What a harness answers
depends on its ARN's name: ``.../harness/unknown`` is a 404 ``ResourceNotFoundException``,
``.../harness/broken`` streams one message and then a ``validationException`` event, any other runs
a two-turn conversation: the assistant thinks and calls a tool, the tool answers, the assistant
answers in two text blocks, one of them sent in several deltas. It proves our side of the exchange,
not AgentCore's behaviour.
"""

from __future__ import annotations

import binascii
import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fake_endpoints import started


def _headers(values: dict[str, str]) -> bytes:
    out = b""
    for name, value in values.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack(">B", len(raw_name)) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value
    return out


def message(headers: dict[str, str], payload: dict[str, Any]) -> bytes:
    """One event-stream message."""
    head, body = _headers(headers), json.dumps(payload).encode()
    total = 12 + len(head) + len(body) + 4
    prelude = struct.pack(">II", total, len(head))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    without_crc = prelude + head + body
    return without_crc + struct.pack(">I", binascii.crc32(without_crc) & 0xFFFFFFFF)


def event(kind: str, payload: dict[str, Any]) -> bytes:
    return message({":message-type": "event", ":event-type": kind, ":content-type": "application/json"}, payload)


def conversation() -> list[bytes]:
    """Two turns: a tool call (with reasoning), the tool's result, then the answer."""
    return [
        event("messageStart", {"role": "assistant"}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "I need data"}}}),
        event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "Let me look."}}),
        event("contentBlockStart", {"contentBlockIndex": 2, "start": {"toolUse": {
            "toolUseId": "t-1", "name": "aws_codeinterpreter_v1", "type": "tool_use"}}}),
        event("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": "{\"code\": \"1+1\"}"}}}),
        event("contentBlockStop", {"contentBlockIndex": 2}),
        event("messageStop", {"stopReason": "tool_use"}),
        event("metadata", {"usage": {"inputTokens": 100, "outputTokens": 20, "totalTokens": 120},
                           "metrics": {"latencyMs": 700}}),
        event("messageStart", {"role": "user"}),
        event("contentBlockStart", {"contentBlockIndex": 0, "start": {"toolResult": {"toolUseId": "t-1",
                                                                                      "status": "success"}}}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolResult": [{"text": "2"}]}}),
        event("messageStop", {"stopReason": "end_turn"}),
        event("messageStart", {"role": "assistant"}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "{\"total\": "}}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "2}"}}),
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "Done."}}),
        event("messageStop", {"stopReason": "end_turn"}),
        event("metadata", {"usage": {"inputTokens": 150, "outputTokens": 30, "totalTokens": 180},
                           "metrics": {"latencyMs": 900}}),
    ]


class FakeAgentCore(ThreadingHTTPServer):
    """The endpoint; ``requests`` keeps every InvokeHarness body it was sent."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeAgentCore

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        from urllib.parse import parse_qs, urlsplit

        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        url = urlsplit(self.path)
        if url.path != "/harnesses/invoke":
            self._send(404, b'{"message": "no such route"}', "application/json")
            return
        # the harness is in the query string, the session in a header (botocore's model says where)
        arn = (parse_qs(url.query).get("harnessArn") or [""])[0]
        body = {**body, "harnessArn": arn,
                "runtimeSessionId": self.headers.get("X-Amzn-Bedrock-AgentCore-Runtime-Session-Id")}
        self.server.requests.append(body)
        name = arn.rsplit("/", 1)[-1]
        if name == "unknown":
            self._send(404, json.dumps({"message": f"Harness {arn} not found"}).encode(),
                       "application/json", {"x-amzn-ErrorType": "ResourceNotFoundException"})
            return
        events = conversation()
        if name == "broken":
            events = events[:2] + [message({":message-type": "exception", ":exception-type": "validationException",
                                            ":content-type": "application/json"},
                                           {"message": "maxIterations must be at least 1"})]
        self._send(200, b"".join(events), "application/vnd.amazon.eventstream")


def serve() -> tuple[FakeAgentCore, threading.Thread]:
    """A started endpoint (stop it with ``server.shutdown(); server.server_close()``)."""
    return started(FakeAgentCore(), "fake-agentcore")
