"""DynamoDB getItem/putItem/updateItem/deleteItem on the local stack, on both engines: typed attribute
values in and out as Step Functions passes and returns them, SdkHttpMetadata, and the errors named as
Step Functions names them (a declared error keeps its class; any other is AmazonDynamoDBException)."""

from __future__ import annotations

import uuid

import asl_airflow
import pytest
from task_states import chain

PUT = "arn:aws:states:::dynamodb:putItem"
#: the region/account form SAM templates produce, to show it runs, not only validates
PUT_REGIONAL = "arn:aws:states:us-east-1:123456789012:dynamodb:putItem"
GET = "arn:aws:states:::dynamodb:getItem"
UPDATE = "arn:aws:states:::dynamodb:updateItem"
DELETE = "arn:aws:states:::dynamodb:deleteItem"


def machine(table: str) -> dict:
    key = {"id": {"S.$": "$.id"}}
    steps = [
        ("Put", PUT_REGIONAL, {"TableName": table, "Item": {
            "id": {"S.$": "$.id"}, "data": {"S": "hello"}, "n": {"N": "7"}, "blob": {"B": "aGk="},
            "tags": {"SS": ["a", "b"]}, "nested": {"M": {"ok": {"BOOL": True}, "none": {"NULL": True}}}}},
         "$.put", None),
        ("Put again only if new", PUT, {"TableName": table, "Item": {"id": {"S.$": "$.id"}},
                                        "ConditionExpression": "attribute_not_exists(id)"},
         "$.put_conflict", "DynamoDB.ConditionalCheckFailedException"),
        ("Update", UPDATE, {"TableName": table, "Key": key, "UpdateExpression": "SET #d = :d ADD n :one",
                            "ExpressionAttributeNames": {"#d": "data"},
                            "ExpressionAttributeValues": {":d": {"S": "updated"}, ":one": {"N": "1"}},
                            "ReturnValues": "UPDATED_NEW"}, "$.update", None),
        ("Get", GET, {"TableName": table, "Key": key, "ConsistentRead": True}, "$.get", None),
        ("Get from missing table", GET, {"TableName": table + "-missing", "Key": key}, "$.get_missing_table",
         "DynamoDB.ResourceNotFoundException"),
        ("Put without key", PUT, {"TableName": table, "Item": {"data": {"S": "no id"}}}, "$.put_invalid",
         "DynamoDB.AmazonDynamoDBException"),
        ("Delete", DELETE, {"TableName": table, "Key": key, "ReturnValues": "ALL_OLD"}, "$.delete", None),
        ("Get deleted", GET, {"TableName": table, "Key": key}, "$.get_deleted", None),
    ]
    return chain(steps)


@pytest.fixture(scope="module")
def table(local_stack):
    name = f"asl-ddb-{uuid.uuid4().hex[:8]}"
    local_stack.client("dynamodb").create_table(
        TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    return name


@pytest.fixture(scope="module")
def runs(local_stack, table, environment):
    with environment(local_stack.env()):
        local = asl_airflow.run(machine(table), {"id": "order-1"}, engine="local", history=True)
        airflow = asl_airflow.run(machine(table), {"id": "order-2"}, engine="airflow", history=True)
    return {"local": local, "airflow": airflow}


ENGINES = ["local", "airflow"]


def _metadata_ok(output: dict) -> None:
    assert output["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert output["SdkHttpMetadata"]["HttpHeaders"]
    assert all(isinstance(v, list) for v in output["SdkHttpMetadata"]["AllHttpHeaders"].values())
    assert output["SdkResponseMetadata"]["RequestId"]


@pytest.mark.parametrize("engine", ENGINES)
def test_run_succeeds(runs, engine):
    assert runs[engine]["status"] == "SUCCEEDED", runs[engine]


@pytest.mark.parametrize("engine", ENGINES)
def test_put_item_answers_with_metadata_only(runs, engine):
    put = runs[engine]["output"]["put"]
    assert set(put) == {"SdkHttpMetadata", "SdkResponseMetadata"}
    _metadata_ok(put)


@pytest.mark.parametrize("engine", ENGINES)
def test_get_item_returns_typed_attribute_values(runs, engine):
    out = runs[engine]["output"]
    item = out["get"]["Item"]
    assert item["id"] == {"S": out["id"]}
    assert item["data"] == {"S": "updated"}
    assert item["n"] == {"N": "8"}  # numbers stay DynamoDB's text
    assert item["blob"] == {"B": "aGk="}  # binary as base64 text, as sent
    assert sorted(item["tags"]["SS"]) == ["a", "b"]
    assert item["nested"] == {"M": {"ok": {"BOOL": True}, "none": {"NULL": True}}}
    _metadata_ok(out["get"])


@pytest.mark.parametrize("engine", ENGINES)
def test_update_and_delete_return_the_values_asked_for(runs, engine):
    out = runs[engine]["output"]
    assert out["update"]["Attributes"] == {"data": {"S": "updated"}, "n": {"N": "8"}}
    assert out["delete"]["Attributes"]["id"] == {"S": out["id"]}
    assert set(out["get_deleted"]) == {"SdkHttpMetadata", "SdkResponseMetadata"}  # no Item: it is gone


@pytest.mark.parametrize("engine", ENGINES)
def test_errors_are_named_as_step_functions_names_them(runs, engine, local_stack, table):
    out = runs[engine]["output"]
    assert out["put_conflict"]["Error"] == "DynamoDB.ConditionalCheckFailedException"
    assert "(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ConditionalCheckFailedException;" in \
        out["put_conflict"]["Cause"]
    assert out["get_missing_table"]["Error"] == "DynamoDB.ResourceNotFoundException"
    assert "Error Code: ResourceNotFoundException;" in out["get_missing_table"]["Cause"]
    assert out["put_invalid"]["Error"] == "DynamoDB.AmazonDynamoDBException"
    assert "Error Code: ValidationException;" in out["put_invalid"]["Cause"]
    assert out["put_invalid"]["Cause"].endswith("; Proxy: null)")


def test_both_engines_agree_on_history_and_shapes(runs):
    def types(result):
        return [e["type"] for e in result["history"]]

    assert types(runs["local"]) == types(runs["airflow"])

    def shape(value):
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items() if k not in ("SdkHttpMetadata", "SdkResponseMetadata")}
        return value

    local, airflow = shape(runs["local"]["output"]), shape(runs["airflow"]["output"])
    for output, own in ((local, "order-1"), (airflow, "order-2")):
        output.pop("id")
        output["get"]["Item"].pop("id")
        assert output["delete"]["Attributes"].pop("id") == {"S": own}
        for key in ("put_conflict", "get_missing_table", "put_invalid"):
            output[key]["Cause"] = output[key]["Cause"].split("Request ID:")[0]
    assert local == airflow


def test_history_names_service_and_action(runs):
    scheduled = [e["taskScheduledEventDetails"] for e in runs["airflow"]["history"] if e["type"] == "TaskScheduled"]
    assert scheduled[0]["resourceType"] == "dynamodb" and scheduled[0]["resource"] == "putItem"
    assert {s["resource"] for s in scheduled} == {"putItem", "getItem", "updateItem", "deleteItem"}


def test_unsupported_dynamodb_pattern_is_refused_at_parse():
    from asl_airflow import AslValidationError, asl_dag

    bad = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": PUT + ".sync", "End": True}}}
    with pytest.raises(AslValidationError, match="does not support the .sync pattern"):
        asl_dag(bad, dag_id="ddb_sync")
