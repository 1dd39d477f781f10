"""EventBridge putEvents on the local stack, on both engines: the output Step Functions gives, the
execution's ARNs appended to each entry's Resources (seen by a rule's SQS target), a failed entry
as ``EventBridge.FailedEntry`` with the response as the cause, and a service error by its v1 name."""

from __future__ import annotations

import json
import uuid

import asl_airflow
import pytest

PUT = "arn:aws:states:::events:putEvents"


def machine(bus: str) -> dict:
    return {"StartAt": "Send", "States": {
        "Send": {"Type": "Task", "Resource": PUT, "ResultPath": "$.sent", "Next": "Send without source",
                 "Parameters": {"Entries": [
                     {"EventBusName": bus, "Source": "asl.orders", "DetailType": "OrderPlaced",
                      "Detail": {"order.$": "$.order", "run.$": "$.run"}},
                     {"EventBusName": bus, "Source": "asl.orders", "DetailType": "OrderText",
                      "Detail.$": "States.JsonToString($.payload)", "Resources": ["arn:aws:s3:::asl-orders"]},
                 ]}},
        "Send without source": {
            "Type": "Task", "Resource": PUT, "Next": "Send to missing bus",
            "Parameters": {"Entries": [{"EventBusName": bus, "Source": "asl.orders", "DetailType": "Ok",
                                        "Detail": {"run.$": "$.run"}},
                                       {"EventBusName": bus, "DetailType": "NoSource", "Detail": {}}]},
            "Catch": [{"ErrorEquals": ["EventBridge.FailedEntry"], "ResultPath": "$.failed_entry",
                       "Next": "Send to missing bus"}]},
        "Send to missing bus": {
            "Type": "Task", "Resource": PUT, "Next": "Done",
            "Parameters": {"Entries": [{"EventBusName": bus + "-missing", "Source": "asl.orders",
                                        "DetailType": "Lost", "Detail": {}}]},
            "Catch": [{"ErrorEquals": ["EventBridge.ResourceNotFoundException"], "ResultPath": "$.missing_bus",
                       "Next": "Done"}]},
        "Done": {"Type": "Succeed"},
    }}


@pytest.fixture(scope="module")
def bus(local_stack):
    """A bus with a rule sending every asl.orders event to an SQS queue, to see what was sent."""
    tag = uuid.uuid4().hex[:8]
    events, sqs = local_stack.client("events"), local_stack.client("sqs")
    name = f"asl-bus-{tag}"
    events.create_event_bus(Name=name)
    queue = sqs.create_queue(QueueName=f"asl-events-{tag}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"all-{tag}", EventBusName=name, EventPattern=json.dumps({"source": ["asl.orders"]}))
    events.put_targets(Rule=f"all-{tag}", EventBusName=name, Targets=[{"Id": "q", "Arn": queue_arn}])
    return {"name": name, "queue": queue}


def _delivered(local_stack, queue: str) -> list[dict]:
    sqs = local_stack.client("sqs")
    out: list[dict] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return out
        for message in batch:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="module")
def runs(local_stack, bus, environment):
    results, delivered = {}, {}
    with environment(local_stack.env()):
        for engine in ("local", "airflow"):
            data = {"order": 7, "run": engine, "payload": {"text": "hello"}}
            results[engine] = asl_airflow.run(machine(bus["name"]), data, engine=engine, history=True)
            delivered[engine] = _delivered(local_stack, bus["queue"])
    return results, delivered


ENGINES = ["local", "airflow"]


@pytest.mark.parametrize("engine", ENGINES)
def test_put_events_output(runs, engine):
    result = runs[0][engine]
    assert result["status"] == "SUCCEEDED", result
    sent = result["output"]["sent"]
    assert list(sent) == ["Entries", "FailedEntryCount"]
    assert sent["FailedEntryCount"] == 0
    assert [set(e) for e in sent["Entries"]] == [{"EventId"}, {"EventId"}]


@pytest.mark.parametrize("engine", ENGINES)
def test_events_carry_the_execution_arns_and_json_detail(runs, engine):
    result, delivered = runs[0][engine], runs[1][engine]
    by_type = {event["detail-type"]: event for event in delivered}
    assert set(by_type) == {"OrderPlaced", "OrderText", "Ok"}  # the entry without Source went nowhere
    placed, text = by_type["OrderPlaced"], by_type["OrderText"]
    assert placed["detail"] == {"order": 7, "run": engine}
    assert text["detail"] == {"text": "hello"}  # a JSON string Detail is sent as it is
    machine_arn, execution_arn = placed["resources"]
    assert ":stateMachine:" in machine_arn and ":execution:" in execution_arn
    assert text["resources"] == ["arn:aws:s3:::asl-orders", machine_arn, execution_arn]
    assert {placed["id"], text["id"]} == {e["EventId"] for e in result["output"]["sent"]["Entries"]}


@pytest.mark.parametrize("engine", ENGINES)
def test_failed_entry_fails_the_task_with_the_response(runs, engine):
    failed = runs[0][engine]["output"]["failed_entry"]
    assert failed["Error"] == "EventBridge.FailedEntry"
    cause = json.loads(failed["Cause"])
    assert list(cause) == ["Entries", "FailedEntryCount"] and cause["FailedEntryCount"] == 1
    assert set(cause["Entries"][0]) == {"EventId"}  # the good entry was sent all the same
    assert cause["Entries"][1]["ErrorCode"] == "InvalidArgument"
    assert "Source" in cause["Entries"][1]["ErrorMessage"]


@pytest.mark.parametrize("engine", ENGINES)
def test_service_error_has_its_v1_name(runs, engine):
    missing = runs[0][engine]["output"]["missing_bus"]
    assert missing["Error"] == "EventBridge.ResourceNotFoundException"
    assert "(Service: AmazonEventBridge; Status Code: 400; Error Code: ResourceNotFoundException;" in missing["Cause"]


def test_both_engines_record_the_same_history(runs):
    def types(result):
        return [e["type"] for e in result["history"]]

    assert types(runs[0]["local"]) == types(runs[0]["airflow"])
    failed = [e["taskFailedEventDetails"] for e in runs[0]["airflow"]["history"] if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failed] == ["EventBridge.FailedEntry", "EventBridge.ResourceNotFoundException"]
    assert {(f["resourceType"], f["resource"]) for f in failed} == {("events", "putEvents")}
