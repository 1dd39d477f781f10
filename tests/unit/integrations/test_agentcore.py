"""What the AgentCore harness integration makes of a stream (the end-to-end run against an endpoint
speaking the binary event stream is tests/integration/test_integrations_agentcore.py)."""

from __future__ import annotations

import pytest
from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import catalog
from asl_airflow.integrations.bedrockagentcore import MAX_SECONDS, converse_shaped


def test_a_stream_without_an_assistant_message_answers_no_content() -> None:
    answer = converse_shaped([{"messageStart": {"role": "user"}}, {"messageStop": {"stopReason": "end_turn"}}])
    assert answer == {"Output": {"Message": {"Role": "assistant", "Content": []}}, "StopReason": "end_turn",
                      "Usage": {"InputTokens": 0, "OutputTokens": 0, "TotalTokens": 0}}


def test_text_blocks_keep_their_order_and_reasoning_and_tools_are_left_out() -> None:
    answer = converse_shaped([
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"contentBlockIndex": 2, "delta": {"text": "second"}}},
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "hmm"}}}},
        {"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"text": "fir"}}},
        {"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"text": "st"}}},
        {"contentBlockDelta": {"contentBlockIndex": 3, "delta": {"toolUse": {"input": "{}"}}}},
        {"messageStop": {"stopReason": "max_tokens"}},
    ])
    assert answer["Output"]["Message"]["Content"] == [{"Text": "first"}, {"Text": "second"}]
    assert answer["StopReason"] == "max_tokens" and "Metrics" not in answer


def test_the_call_ends_after_fifteen_minutes_whatever_timeout_seconds_says() -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 400.0
        return now[0]

    events = [{"messageStart": {"role": "assistant"}}] * 5
    with pytest.raises(AslError) as caught:
        converse_shaped(events, deadline=MAX_SECONDS, clock=clock)
    assert caught.value.error == "States.Timeout" and MAX_SECONDS == 900


def test_invoke_harness_is_request_response_only() -> None:
    resource = "arn:aws:states:::bedrockagentcore:invokeHarness"
    assert catalog.problem(resource) is None
    assert "does not support the .sync pattern" in (catalog.problem(resource + ".sync") or "")
