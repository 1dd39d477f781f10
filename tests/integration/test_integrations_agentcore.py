"""Amazon Bedrock AgentCore ``invokeHarness`` on both engines, against a small AgentCore endpoint the
test starts (``fake_agentcore.py``: moto has no AgentCore; a thread of this process on a free port,
speaking the binary event stream botocore reads). The machine is shaped after AWS's own sample
(sales-analysis-bedrock-agentcore): JSONata Arguments in PascalCase, the answer read as
``$states.result.Output.Message.Content[0].Text``, errors caught as ``BedrockAgentCore.<Exception>``."""

from __future__ import annotations

import asl_airflow
import pytest
from fake_agentcore import FakeAgentCore, serve
from fake_endpoints import connection_env

INVOKE = "arn:aws:states:::bedrockagentcore:invokeHarness"
HARNESS = "arn:aws:bedrock-agentcore:us-east-1:123456789012:harness/"
INTERPRETER = "arn:aws:bedrock-agentcore:us-east-1:123456789012:code-interpreter/aws.codeinterpreter.v1"


def machine() -> dict:
    session = "{% $states.context.Execution.Name & '-analyze-0123456789abcdef0123456789' %}"
    return {"StartAt": "Analyze", "States": {
        "Analyze": {
            "Type": "Task", "Resource": INVOKE, "QueryLanguage": "JSONata",
            "Arguments": {
                "HarnessArn": HARNESS + "analyst", "RuntimeSessionId": session,
                "Messages": [{"Role": "user", "Content": [{"Text": "{% 'Sum ' & $states.input.numbers %}"}]}],
                "SystemPrompt": [{"Text": "Answer with one JSON object."}],
                "Tools": [{"Type": "agentcore_code_interpreter", "Name": "aws_codeinterpreter_v1",
                           "Config": {"AgentCoreCodeInterpreter": {"CodeInterpreterArn": INTERPRETER}}}],
                "MaxIterations": 15, "TimeoutSeconds": 600, "NotAnApiMember": 1,
            },
            "Output": {"analysis": "{% $states.result.Output.Message.Content[0].Text %}",
                       "result": "{% $states.result %}"},
            "Next": "Broken harness",
        },
        "Broken harness": {
            "Type": "Task", "Resource": INVOKE, "ResultPath": "$.broken", "Next": "Unknown harness",
            "Parameters": {"HarnessArn": HARNESS + "broken", "RuntimeSessionId": "b" * 40,
                           "Messages": [{"Role": "user", "Content": [{"Text": "hi"}]}]},
            "Catch": [{"ErrorEquals": ["BedrockAgentCore.ValidationException"], "ResultPath": "$.broken",
                       "Next": "Unknown harness"}],
        },
        "Unknown harness": {
            "Type": "Task", "Resource": INVOKE, "ResultPath": "$.unknown", "End": True,
            "Parameters": {"HarnessArn": HARNESS + "unknown", "RuntimeSessionId": "u" * 40,
                           "Messages": [{"Role": "user", "Content": [{"Text": "hi"}]}]},
            "Catch": [{"ErrorEquals": ["BedrockAgentCore.ResourceNotFoundException"], "ResultPath": "$.unknown",
                       "Next": "Done"}],
        },
        "Done": {"Type": "Succeed"},
    }}


@pytest.fixture(scope="module")
def agentcore():
    server, _ = serve()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def runs(local_stack, agentcore: FakeAgentCore, environment):
    with environment(connection_env(local_stack.env(), {"bedrock-agentcore": agentcore.endpoint})):
        local = asl_airflow.run(machine(), {"numbers": "1 and 1"}, engine="local", history=True)
        airflow = asl_airflow.run(machine(), {"numbers": "1 and 1"}, engine="airflow", history=True)
    return {"local": local, "airflow": airflow}


ENGINES = ["local", "airflow"]


@pytest.mark.parametrize("engine", ENGINES)
def test_run_succeeds(runs, engine):
    assert runs[engine]["status"] == "SUCCEEDED", runs[engine]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_answer_is_converse_shaped_from_the_last_assistant_message(runs, engine):
    out = runs[engine]["output"]
    assert out["analysis"] == '{"total": 2}'
    # only the last assistant message's text; usage and latency summed over the whole conversation
    assert out["result"] == {
        "Output": {"Message": {"Role": "assistant", "Content": [{"Text": '{"total": 2}'}, {"Text": "Done."}]}},
        "StopReason": "end_turn", "Usage": {"InputTokens": 250, "OutputTokens": 50, "TotalTokens": 300},
        "Metrics": {"LatencyMs": 1600}}


@pytest.mark.parametrize("engine", ENGINES)
def test_errors_have_step_functions_names(runs, engine):
    out = runs[engine]["output"]
    assert out["broken"]["Error"] == "BedrockAgentCore.ValidationException"
    assert "maxIterations must be at least 1" in out["broken"]["Cause"]
    assert out["unknown"]["Error"] == "BedrockAgentCore.ResourceNotFoundException"
    assert "(Service: BedrockAgentCore; Status Code: 404; Error Code: ResourceNotFoundException;" in \
        out["unknown"]["Cause"]


def test_the_request_is_the_api_s_in_its_own_names(runs, agentcore: FakeAgentCore):
    sent = [r for r in agentcore.requests if r["harnessArn"].endswith("/analyst")]
    assert len(sent) == 2  # one per engine
    for request in sent:
        assert request["runtimeSessionId"].endswith("-analyze-0123456789abcdef0123456789")
        assert request["messages"] == [{"role": "user", "content": [{"text": "Sum 1 and 1"}]}]
        assert request["systemPrompt"] == [{"text": "Answer with one JSON object."}]
        assert request["tools"] == [{"type": "agentcore_code_interpreter", "name": "aws_codeinterpreter_v1",
                                     "config": {"agentCoreCodeInterpreter": {"codeInterpreterArn": INTERPRETER}}}]
        assert request["maxIterations"] == 15 and request["timeoutSeconds"] == 600
        assert "notAnApiMember" not in request and "NotAnApiMember" not in request


def test_both_engines_agree_on_history(runs):
    def types(result):
        return [e["type"] for e in result["history"]]

    assert types(runs["local"]) == types(runs["airflow"])
