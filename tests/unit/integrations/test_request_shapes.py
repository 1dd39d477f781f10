"""Request building of the DynamoDB, EventBridge and HTTP entries, without a network: what AWS documents
for each (binary attribute values, appended execution ARNs, URL-encoded bodies, forbidden headers)."""

from __future__ import annotations

import pytest
from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import dynamodb, events, http_task
from asl_airflow.integrations.base import ServiceCall

BODY = {"array": ["a", "b", "c", "d"]}


@pytest.mark.parametrize(("array_format", "expected"), [
    ("INDICES", "array%5B0%5D=a&array%5B1%5D=b&array%5B2%5D=c&array%5B3%5D=d"),
    ("REPEAT", "array=a&array=b&array=c&array=d"),
    ("COMMAS", "array=a,b,c,d"),
    ("BRACKETS", "array%5B%5D=a&array%5B%5D=b&array%5B%5D=c&array%5B%5D=d"),
])
def test_array_formats_as_aws_documents_them(array_format, expected):
    assert http_task.form_encode(BODY, array_format) == expected


def test_form_encoding_of_nested_objects_and_scalars():
    body = {"description": "Monthly subscription", "metadata": {"order_details": "monthly report data"},
            "n": 2, "ok": True, "none": None}
    assert http_task.form_encode(body, "INDICES") == (
        "description=Monthly%20subscription&metadata%5Border_details%5D=monthly%20report%20data"
        "&n=2&ok=true&none=")


@pytest.mark.parametrize("header", ["Authorization", "host", "X-Amz-Date", "x-amzn-trace-id", "X-Forwarded-For"])
def test_forbidden_headers_are_refused(header):
    with pytest.raises(AslError, match="cannot be set") as caught:
        http_task.definition_headers({"Headers": {header: "x"}})
    assert caught.value.error == "States.Runtime"


def test_query_parameters_forms():
    assert http_task.query_pairs({"a": "1", "b": ["2", "3"], "c": True}, {}) == \
        [("a", "1"), ("b", "2"), ("b", "3"), ("c", "true")]
    assert http_task.query_pairs("?a=1&b=x%20y", {}) == [("a", "1"), ("b", "x y")]
    with pytest.raises(AslError, match="QueryParameters"):
        http_task.query_pairs(5, {"QueryParameters": 5})


def test_connection_arn_names_the_airflow_connection():
    assert http_task.connection_id("arn:aws:events:us-east-1:123456789012:connection/stripe/81210c42") == "stripe"
    with pytest.raises(AslError, match="not an EventBridge connection ARN"):
        http_task.connection_id("stripe")


def test_dynamodb_binary_values_are_decoded_for_the_api_and_encoded_back():
    request = dynamodb._request("PutItem", {"TableName": "t", "Ignored": 1, "Item": {
        "b": {"B": "aGk="}, "bs": {"BS": ["aGk=", "eW8="]}, "l": {"L": [{"B": "aGk="}]}}}, "r")
    assert request == {"TableName": "t", "Item": {"b": {"B": b"hi"}, "bs": {"BS": [b"hi", b"yo"]},
                                                  "l": {"L": [{"B": b"hi"}]}}}
    assert dynamodb._encode({"Item": {"b": {"B": b"hi"}}, "ResponseMetadata": {}}) == {"Item": {"b": {"B": "aGk="}}}
    with pytest.raises(AslError) as caught:
        dynamodb._request("PutItem", {"TableName": "t", "Item": {"b": {"B": "not base64!"}}}, "r")
    assert caught.value.error == "DynamoDB.AmazonDynamoDBException"


def test_eventbridge_entries_get_the_execution_arns_and_json_detail():
    arns = ["arn:aws:states:us-east-1:1:stateMachine:m", "arn:aws:states:us-east-1:1:execution:m:e"]
    call = ServiceCall("arn:aws:states:::events:putEvents", "events", "putEvents", "", {"Entries": [
        {"Source": "s", "DetailType": "d", "Detail": {"a": 1}, "Unknown": 1},
        {"Source": "s", "DetailType": "d", "Detail": '"text"', "Resources": ["r"]},
    ]}, extra={"execution_arns": arns})
    request = events._request(call)
    assert request["Entries"][0] == {"Source": "s", "DetailType": "d", "Detail": '{"a":1}', "Resources": arns}
    assert request["Entries"][1]["Detail"] == '"text"'
    assert request["Entries"][1]["Resources"] == ["r", *arns]


def test_put_events_wait_for_task_token_needs_the_airflow_engine():
    import asl_airflow

    machine = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
        "Parameters": {"Entries": [{"Detail": {"token.$": "$$.Task.Token"}, "DetailType": "d", "Source": "s"}]},
        "End": True}}}
    result = asl_airflow.run(machine, {}, engine="local")
    assert result["status"] == "FAILED" and result["error"] == "States.Runtime"
    assert "--engine airflow" in result["cause"] or "engine='airflow'" in result["cause"]
