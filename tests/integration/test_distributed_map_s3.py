"""Distributed Map ItemReader (CSV, JSON, JSONL, S3 Inventory manifest, listObjectsV2) and ResultWriter
(manifest.json + SUCCEEDED_0.json / FAILED_0.json) on the local stack's S3, on both engines."""

from __future__ import annotations

import gzip
import json
import uuid

import asl_airflow
import pytest

GET, LIST, PUT = "arn:aws:states:::s3:getObject", "arn:aws:states:::s3:listObjectsV2", "arn:aws:states:::s3:putObject"
def processor(name: str) -> dict:
    """An identity item processor (state names are unique in the whole machine)."""
    return {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": f"Keep {name}", "States": {f"Keep {name}": {"Type": "Pass", "End": True}}}


FAILING_PROCESSOR = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Check",
                     "States": {"Check": {"Type": "Choice", "Choices": [
                         {"Variable": "$.n", "NumericEquals": 2, "Next": "Broken"}], "Default": "Double"},
                                "Broken": {"Type": "Fail", "Error": "Item.Broken", "Cause": "two is broken"},
                                "Double": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"},
                                           "End": True}}}


def _map(reader: dict | None, result_path: str, next_state: str, processor: dict | None = None, **extra) -> dict:
    state = {"Type": "Map", "ItemProcessor": processor or globals()["processor"](result_path.strip("$.")),
             "ResultPath": result_path, "Next": next_state, **extra}
    if reader is not None:
        state["ItemReader"] = reader
    return state


def machine(bucket: str) -> dict:
    def get(key: str, **config) -> dict:
        return {"Resource": GET, "Parameters": {"Bucket": bucket, "Key": key}, "ReaderConfig": config}

    return {"StartAt": "Csv", "States": {
        "Csv": _map(get("in/rows.csv", InputType="CSV", CSVHeaderLocation="FIRST_ROW", MaxItems=3), "$.csv",
                    "Csv given"),
        "Csv given": _map(get("in/pipes.csv", InputType="CSV", CSVHeaderLocation="GIVEN", CSVHeaders=["a", "b"],
                              CSVDelimiter="PIPE"), "$.csv_given", "Json"),
        "Json": _map(get("in/items.json", InputType="JSON"), "$.json", "Jsonl"),
        "Jsonl": _map(get("in/items.jsonl", InputType="JSONL"), "$.jsonl", "Listing"),
        "Listing": _map({"Resource": LIST, "Parameters": {"Bucket": bucket, "Prefix": "in/list/"}}, "$.listing",
                        "Inventory"),
        "Inventory": _map(get("inventory/manifest.json", InputType="MANIFEST"), "$.inventory", "Write"),
        "Write": _map(get("in/items.json", InputType="JSON"), "$.written", "Missing", processor=FAILING_PROCESSOR,
                      ToleratedFailurePercentage=100, Label="Doubler",
                      ResultWriter={"Resource": PUT, "Parameters": {"Bucket": bucket, "Prefix": "results"}}),
        "Missing": _map(get("in/none.json", InputType="JSON"), "$.missing", "Done",
                        Catch=[{"ErrorEquals": ["States.ItemReaderFailed"], "ResultPath": "$.missing",
                                "Next": "Done"}]),
        "Done": {"Type": "Succeed"},
    }}


@pytest.fixture(scope="module")
def bucket(local_stack):
    name = f"asl-dmap-{uuid.uuid4().hex[:8]}"
    s3 = local_stack.client("s3")
    s3.create_bucket(Bucket=name)
    put = {
        "in/rows.csv": "\ufeffid,name,score\n1,ann,9\n2,bob,\n\n3,cy,7,extra\n4,dee,5\n",
        "in/pipes.csv": "x|y|z\n1|\n",
        "in/items.json": json.dumps([{"n": 1}, {"n": 2}, {"n": 3}]),
        "in/items.jsonl": '{"n": 1}\n\n"two"\n[3]\n',
        "in/list/a.txt": "aaa",
        "in/list/b.txt": "bbbbb",
    }
    for key, body in put.items():
        s3.put_object(Bucket=name, Key=key, Body=body.encode())
    s3.put_object(Bucket=name, Key="inventory/data/part-0.csv.gz",
                  Body=gzip.compress(f'"{name}","in/list/a.txt","3"\n"{name}","in/list/b.txt","5"\n'.encode()))
    s3.put_object(Bucket=name, Key="inventory/manifest.json", Body=json.dumps({
        "sourceBucket": name, "destinationBucket": f"arn:aws:s3:::{name}", "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size", "files": [{"key": "inventory/data/part-0.csv.gz", "size": 1}]}).encode())
    return name


@pytest.fixture(scope="module")
def runs(local_stack, bucket, environment):
    with environment(local_stack.env()):
        return {engine: asl_airflow.run(machine(bucket), {}, engine=engine, history=True)
                for engine in ("local", "airflow")}


ENGINES = ["local", "airflow"]


@pytest.mark.parametrize("engine", ENGINES)
def test_run_succeeds(runs, engine):
    assert runs[engine]["status"] == "SUCCEEDED", runs[engine]


@pytest.mark.parametrize("engine", ENGINES)
def test_csv_readers(runs, engine):
    out = runs[engine]["output"]
    assert out["csv"] == [{"id": "1", "name": "ann", "score": "9"}, {"id": "2", "name": "bob", "score": ""},
                          {"id": "3", "name": "cy", "score": "7"}]  # MaxItems 3, extra field dropped, BOM gone
    assert out["csv_given"] == [{"a": "x", "b": "y"}, {"a": "1", "b": ""}]


@pytest.mark.parametrize("engine", ENGINES)
def test_json_jsonl_listing_and_inventory(runs, engine, bucket):
    out = runs[engine]["output"]
    assert out["json"] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert out["jsonl"] == [{"n": 1}, "two", [3]]
    assert [(o["Key"], o["Size"], o["StorageClass"]) for o in out["listing"]] == \
        [("in/list/a.txt", 3, "STANDARD"), ("in/list/b.txt", 5, "STANDARD")]
    assert all(set(o) == {"Etag", "LastModified", "Key", "Size", "StorageClass"} for o in out["listing"])
    assert isinstance(out["listing"][0]["LastModified"], int)
    assert out["inventory"] == [{"Bucket": bucket, "Key": "in/list/a.txt", "Size": "3"},
                                {"Bucket": bucket, "Key": "in/list/b.txt", "Size": "5"}]


@pytest.mark.parametrize("engine", ENGINES)
def test_missing_object_is_item_reader_failed(runs, engine):
    missing = runs[engine]["output"]["missing"]
    assert missing["Error"] == "States.ItemReaderFailed"
    assert "NoSuchKey" in missing["Cause"]


@pytest.mark.parametrize("engine", ENGINES)
def test_result_writer_writes_what_aws_writes(runs, engine, local_stack, bucket):
    written = runs[engine]["output"]["written"]
    assert set(written) == {"MapRunArn", "ResultWriterDetails"}
    run_arn = written["MapRunArn"]
    assert ":mapRun:" in run_arn and "/Doubler:" in run_arn
    run_id = run_arn.rsplit(":", 1)[1]
    assert written["ResultWriterDetails"] == {"Bucket": bucket, "Key": f"results/{run_id}/manifest.json"}
    s3 = local_stack.client("s3")

    def load(key):
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    manifest = load(f"results/{run_id}/manifest.json")
    assert manifest["DestinationBucket"] == bucket and manifest["MapRunArn"] == run_arn
    assert [f["Key"] for f in manifest["ResultFiles"]["SUCCEEDED"]] == [f"results/{run_id}/SUCCEEDED_0.json"]
    assert [f["Key"] for f in manifest["ResultFiles"]["FAILED"]] == [f"results/{run_id}/FAILED_0.json"]
    assert manifest["ResultFiles"]["PENDING"] == []
    succeeded = load(f"results/{run_id}/SUCCEEDED_0.json")
    assert [json.loads(e["Input"]) for e in succeeded] == [{"n": 1}, {"n": 3}]
    assert [json.loads(e["Output"]) for e in succeeded] == [{"doubled": 2}, {"doubled": 6}]
    assert {e["Status"] for e in succeeded} == {"SUCCEEDED"}
    failed = load(f"results/{run_id}/FAILED_0.json")
    assert [(json.loads(e["Input"]), e["Error"], e["Cause"], e["Status"]) for e in failed] == \
        [({"n": 2}, "Item.Broken", "two is broken", "FAILED")]
    assert failed[0]["ExecutionArn"].startswith(run_arn.split(":mapRun:")[0] + ":execution:")


def test_both_engines_agree(runs):
    assert [e["type"] for e in runs["local"]["history"]] == [e["type"] for e in runs["airflow"]["history"]]

    def stable(output):
        out = dict(output)
        out["listing"] = [{k: v for k, v in o.items() if k != "LastModified"} for o in out["listing"]]
        out.pop("written")  # the map run id comes from each run's own execution
        return out

    assert stable(runs["local"]["output"]) == stable(runs["airflow"]["output"])
