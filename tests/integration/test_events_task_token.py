"""``events:putEvents.waitForTaskToken`` through Airflow: the event carries ``$$.Task.Token`` to a rule's
SQS target, the run defers, and SendTaskSuccess on the plugin's API completes the Task. The run and
the API are the ones ``test_task_token.py`` sets up (``dag.test()`` in a child process, Airflow's API
app in this one)."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest
from test_task_token import Run, _send, airflow_home, api  # noqa: F401 - fixtures used by name


@pytest.fixture
def routed(stack_env):
    """A bus whose rule sends every ``asl.approvals`` event to an SQS queue (the external system's inbox)."""
    tag = uuid.uuid4().hex[:8]
    events, sqs = stack_env.client("events"), stack_env.client("sqs")
    bus = f"asl-approvals-{tag}"
    events.create_event_bus(Name=bus)
    url = sqs.create_queue(QueueName=f"asl-approvals-{tag}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"r-{tag}", EventBusName=bus, EventPattern=json.dumps({"source": ["asl.approvals"]}))
    events.put_targets(Rule=f"r-{tag}", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return bus, sqs, url


def _event(sqs, url: str, run: Run, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            return json.loads(messages[0]["Body"])
        if run.proc.poll() is not None:
            out, err = run.proc.communicate()
            raise AssertionError(f"the run ended before its event arrived:\n{out[-3000:]}\n{err[-3000:]}")
    raise AssertionError("no event with a task token arrived")


@pytest.mark.skipif(os.environ.get("ASL_ALL_TESTS") != "1",
                    reason="minutes long (an Airflow run waiting on a callback): `make test-all` runs it")
def test_put_events_waits_for_the_token(airflow_home, api, routed):  # noqa: F811 - pytest fixtures
    bus, sqs, url = routed
    machine = {"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
                "Parameters": {"Entries": [{"EventBusName": bus, "Source": "asl.approvals", "DetailType": "Approve",
                                            "Detail": {"order.$": "$.order", "token.$": "$$.Task.Token"}}]},
                "ResultPath": "$.approval", "End": True}}}
    run = Run(airflow_home, "events_token", machine, {"order": 31})
    try:
        event = _event(sqs, url, run)
        assert event["detail"]["order"] == 31
        assert any(":execution:" in r for r in event["resources"])  # the execution ARN rides along
        sent = _send(api, "SendTaskSuccess", {"taskToken": event["detail"]["token"],
                                              "output": json.dumps({"approved": True})})
        assert sent.status_code == 200, sent.text
        result = run.result()
    finally:
        run.kill()
    assert result["status"] == "SUCCEEDED", result
    assert result["output"] == {"order": 31, "approval": {"approved": True}}
    types = [e["type"] for e in result["history"]]
    assert types.index("TaskSubmitted") < types.index("TaskSucceeded")
