"""A Distributed Map's ItemReader and ResultWriter on S3, through the Amazon provider's ``S3Hook``.

These are not Task resources (a Task cannot name ``arn:aws:states:::s3:getObject``), so they are not
entries of the integration table: the invoker sends a Map's reader and writer calls here
(:func:`call_for`). What they do, as AWS documents and records it:

ItemReader
  - ``s3:listObjectsV2`` (``Bucket``, ``Prefix``, ...): one item per object,
    ``{"Etag", "LastModified" (epoch seconds), "Key", "Size", "StorageClass"}``, all pages;
  - ``s3:getObject`` (``Bucket``, ``Key``, ``VersionId``) with ``ReaderConfig.InputType``:
    ``JSON`` (the object is a JSON array; anything else fails with "Attempting to map over non-iterable
    node."), ``JSONL`` (one JSON value per line), ``CSV`` (``CSVHeaderLocation`` ``FIRST_ROW`` or
    ``GIVEN`` with ``CSVHeaders``; ``CSVDelimiter`` COMMA, PIPE, SEMICOLON, SPACE or TAB; every value a
    string, missing fields ``""``, fields beyond the headers dropped; duplicate headers fail with "CSV
    headers cannot contain duplicates.") and ``MANIFEST`` (an S3 Inventory ``manifest.json``: the CSV
    inventory files it lists, gzip or not, one item per row keyed by its ``fileSchema``).
  Failures are ``States.ItemReaderFailed``. CSV and JSONL stream and stop at a literal
  ``ReaderConfig.MaxItems``; a JSON or inventory object over :data:`MAX_OBJECT_BYTES` is refused
  rather than read into memory.

ResultWriter (``s3:putObject``, ``Bucket``, ``Prefix``)
  writes ``<Prefix>/<map run id>/SUCCEEDED_0.json``, ``FAILED_0.json`` (each a JSON array of the child
  executions: ``ExecutionArn``, ``Input``/``Output`` as JSON text, ``Status``, ``Error``/``Cause``, ...)
  and ``manifest.json`` (``DestinationBucket``, ``MapRunArn``, ``ResultFiles`` by status; ``PENDING``
  stays empty because every child has finished when the writer runs), and the Map's result becomes
  ``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key": ".../manifest.json"}}``. Failures are
  ``States.ResultWriterFailed``.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from asl_airflow.asl import errors as asl_errors
from asl_airflow.asl.context import iso_at
from asl_airflow.asl.errors import AslError
from asl_airflow.integrations.resources import parse_resource

#: the most of one JSON or inventory object read into memory (CSV and JSONL stream)
MAX_OBJECT_BYTES = 256 * 1024 * 1024
DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
_LIST_KEYS = frozenset({"Bucket", "Prefix", "Delimiter", "EncodingType", "MaxKeys", "StartAfter", "ExpectedBucketOwner",
                        "RequestPayer"})
_GET_KEYS = frozenset({"Bucket", "Key", "VersionId", "ExpectedBucketOwner", "RequestPayer"})


def call_for(resource: str, state: dict[str, Any]) -> str | None:
    """``"reader"`` / ``"writer"`` when ``resource`` is this Map state's ItemReader / ResultWriter, else None."""
    if not isinstance(state, dict) or state.get("Type") != "Map":
        return None
    if (state.get("ItemReader") or {}).get("Resource") == resource:
        return "reader"
    if (state.get("ResultWriter") or {}).get("Resource") == resource:
        return "writer"
    return None


def _client(aws_conn_id: str, region_name: str | None) -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=aws_conn_id, region_name=region_name).get_conn()


def _failure(error: str, exc: BaseException) -> AslError:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        err = response["Error"]
        return AslError(error, f"{err.get('Message') or err.get('Code')} (Service: S3, Status Code: "
                               f"{response.get('ResponseMetadata', {}).get('HTTPStatusCode', '')}, "
                               f"Error Code: {err.get('Code')})")
    return AslError(error, f"{type(exc).__name__}: {exc}")


# -- ItemReader -----------------------------------------------------------------------------------


def read(resource: str, parameters: Any, reader: dict[str, Any], aws_conn_id: str,
         region_name: str | None) -> list[Any]:
    """The items of a Distributed Map's ItemReader."""
    service, action, _ = parse_resource(resource)
    params = parameters if isinstance(parameters, dict) else {}
    config = reader.get("ReaderConfig") or {}
    limit = config.get("MaxItems") if isinstance(config.get("MaxItems"), int) and config["MaxItems"] > 0 else None
    if (service, action) not in (("s3", "listObjectsV2"), ("s3", "getObject")):
        raise AslError(asl_errors.ITEM_READER_FAILED, f"ItemReader Resource {resource!r} is not supported; use "
                       "arn:aws:states:::s3:getObject or arn:aws:states:::s3:listObjectsV2")
    client = _client(aws_conn_id, region_name)
    try:
        if action == "listObjectsV2":
            return _list_objects(client, {k: v for k, v in params.items() if k in _LIST_KEYS}, limit)
        request = {k: v for k, v in params.items() if k in _GET_KEYS}
        input_type = config.get("InputType", "JSON")
        if input_type == "MANIFEST":
            return _manifest(client, request, limit)
        body = client.get_object(**request)
        if input_type == "CSV":
            return _csv(_lines(body), config, limit)
        if input_type == "JSONL":
            return _jsonl(_lines(body), limit)
        if input_type == "JSON":
            return _json(_bounded(body, request))
        raise AslError(asl_errors.ITEM_READER_FAILED, f"ReaderConfig.InputType {input_type!r} is not supported")
    except AslError:
        raise
    except Exception as exc:
        raise _failure(asl_errors.ITEM_READER_FAILED, exc) from exc


def _list_objects(client: Any, request: dict[str, Any], limit: int | None) -> list[Any]:
    items: list[Any] = []
    for page in client.get_paginator("list_objects_v2").paginate(**request):
        for obj in page.get("Contents", []):
            modified = obj.get("LastModified")
            items.append({"Etag": obj.get("ETag"), "LastModified": int(modified.timestamp()) if modified else None,
                          "Key": obj.get("Key"), "Size": obj.get("Size"), "StorageClass": obj.get("StorageClass")})
            if limit is not None and len(items) >= limit:
                return items
    return items


def _lines(response: Any) -> Iterator[str]:
    """The object's text line by line, without reading it whole (a BOM is dropped)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    for chunk in response["Body"].iter_chunks(chunk_size=1024 * 1024):
        pending += decoder.decode(chunk)
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def _bounded(response: Any, request: dict[str, Any]) -> bytes:
    if (response.get("ContentLength") or 0) > MAX_OBJECT_BYTES:
        raise AslError(asl_errors.ITEM_READER_FAILED, f"s3://{request.get('Bucket')}/{request.get('Key')} is larger "
                       f"than {MAX_OBJECT_BYTES} bytes; use JSONL or CSV, which are read as a stream")
    return response["Body"].read()


def _json(data: bytes) -> list[Any]:
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except ValueError as exc:
        raise AslError(asl_errors.ITEM_READER_FAILED, f"The object is not JSON: {exc}") from None
    if not isinstance(value, list):
        raise AslError(asl_errors.ITEM_READER_FAILED, "Attempting to map over non-iterable node.")
    return value


def _jsonl(lines: Iterator[str], limit: int | None) -> list[Any]:
    items: list[Any] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except ValueError as exc:
            raise AslError(asl_errors.ITEM_READER_FAILED, f"Line {number} is not JSON: {exc}") from None
        if limit is not None and len(items) >= limit:
            break
    return items


def _csv(lines: Iterator[str], config: dict[str, Any], limit: int | None) -> list[Any]:
    delimiter = DELIMITERS.get(config.get("CSVDelimiter", "COMMA"))
    if delimiter is None:
        raise AslError(asl_errors.ITEM_READER_FAILED, f"CSVDelimiter must be one of {', '.join(DELIMITERS)}")
    rows = csv.reader(lines, delimiter=delimiter)
    location = config.get("CSVHeaderLocation", "FIRST_ROW")
    if location == "GIVEN":
        headers = config.get("CSVHeaders")
        if not isinstance(headers, list) or not headers:
            raise AslError(asl_errors.ITEM_READER_FAILED, "CSVHeaders must be a non-empty list with GIVEN headers")
        headers = [str(h) for h in headers]
    else:
        headers = next((row for row in rows if row), [])
    if len(set(headers)) != len(headers):
        raise AslError(asl_errors.ITEM_READER_FAILED, "CSV headers cannot contain duplicates.")
    return _rows_as_items(rows, headers, limit)


def _rows_as_items(rows: Any, headers: list[str], limit: int | None) -> list[Any]:
    items: list[Any] = []
    for row in rows:
        if not row:
            continue
        items.append({name: row[i] if i < len(row) else "" for i, name in enumerate(headers)})
        if limit is not None and len(items) >= limit:
            break
    return items


def _manifest(client: Any, request: dict[str, Any], limit: int | None) -> list[Any]:
    manifest = _json_object(_bounded(client.get_object(**request), request))
    if manifest.get("fileFormat", "CSV").upper() != "CSV":
        raise AslError(asl_errors.ITEM_READER_FAILED, "Only CSV S3 Inventory manifests are supported")
    schema = [name.strip() for name in str(manifest.get("fileSchema", "")).split(",") if name.strip()]
    destination = str(manifest.get("destinationBucket", "")).removeprefix("arn:aws:s3:::") or request.get("Bucket")
    items: list[Any] = []
    for entry in manifest.get("files", []):
        file_request = {"Bucket": destination, "Key": entry["key"]}
        data = _bounded(client.get_object(**file_request), file_request)
        if entry["key"].endswith(".gz") or data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        rows = csv.reader(io.StringIO(data.decode("utf-8-sig")))
        items.extend(_rows_as_items(rows, schema, None if limit is None else limit - len(items)))
        if limit is not None and len(items) >= limit:
            break
    return items


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except ValueError as exc:
        raise AslError(asl_errors.ITEM_READER_FAILED, f"The manifest is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise AslError(asl_errors.ITEM_READER_FAILED, "The manifest is not a JSON object")
    return value


# -- ResultWriter ---------------------------------------------------------------------------------


def map_run_arn(execution_arn: str, state_machine_arn: str, state: dict[str, Any], state_name: str,
                entered: str) -> str:
    """``arn:aws:states:<region>:<account>:mapRun:<machine>/<Label or state>:<id>``; the id is derived
    from the execution and the state's entry, so a retried Airflow join writes to the same place."""
    parts = state_machine_arn.split(":")
    prefix = ":".join(parts[:5]) if len(parts) >= 7 else "arn:aws:states:us-east-1:123456789012"
    machine = parts[6] if len(parts) >= 7 else "StateMachine"
    run_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{execution_arn}/{state_name}/{entered}")
    return f"{prefix}:mapRun:{machine}/{state.get('Label') or state_name}:{run_id}"


def write(parameters: Any, state: dict[str, Any], execution: Any, state_name: str, entered: str,
          aws_conn_id: str, region_name: str | None) -> dict[str, Any]:
    """Write the child executions' results to S3 as AWS lays them out; the Map's new result."""
    params = parameters if isinstance(parameters, dict) else {}
    bucket, prefix = params.get("Bucket"), str(params.get("Prefix") or "").strip("/")
    if not isinstance(bucket, str) or not bucket:
        raise AslError(asl_errors.RESULT_WRITER_FAILED, "ResultWriter Parameters need a Bucket")
    run_arn = map_run_arn(execution.execution_arn, execution.state_machine_arn, state, state_name, entered)
    run_id = run_arn.rsplit(":", 1)[1]
    base = f"{prefix}/{run_id}" if prefix else run_id
    records = params.get("Executions")
    if not isinstance(records, list):  # an engine that gives only results: each one counts as succeeded
        records = [{"input": None, "output": r, "status": "SUCCEEDED"} for r in params.get("Results") or []]
    now = iso_at(datetime.now(UTC))
    by_status: dict[str, list[dict[str, Any]]] = {"SUCCEEDED": [], "FAILED": []}
    for index, record in enumerate(records):
        by_status.setdefault(record["status"], []).append(
            _execution(record, index, run_arn, now))
    client = _client(aws_conn_id, region_name)
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    try:
        for status, entries in by_status.items():
            if entries:
                key = f"{base}/{status}_0.json"
                body = json.dumps(entries, separators=(",", ":")).encode("utf-8")
                client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
                files.setdefault(status, []).append({"Key": key, "Size": len(body)})
        manifest = {"DestinationBucket": bucket, "MapRunArn": run_arn, "ResultFiles": files}
        client.put_object(Bucket=bucket, Key=f"{base}/manifest.json", ContentType="application/json",
                          Body=json.dumps(manifest, separators=(",", ":")).encode("utf-8"))
    except Exception as exc:
        raise _failure(asl_errors.RESULT_WRITER_FAILED, exc) from exc
    return {"MapRunArn": run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": f"{base}/manifest.json"}}


def _execution(record: dict[str, Any], index: int, run_arn: str, now: str) -> dict[str, Any]:
    """One child execution as the result files list it (the child state machine is the map run's)."""
    child_machine = run_arn.replace(":mapRun:", ":stateMachine:").rsplit(":", 1)[0]
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run_arn}/{index}"))
    out: dict[str, Any] = {
        "ExecutionArn": f"{child_machine.replace(':stateMachine:', ':execution:')}:{name}",
        "Input": json.dumps(record.get("input"), separators=(",", ":")),
        "InputDetails": {"Included": True},
        "Name": name,
        "RedriveCount": 0,
        "StartDate": now,
        "StateMachineArn": child_machine,
        "Status": record["status"],
        "StopDate": now,
    }
    if record["status"] == "SUCCEEDED":
        out["Output"] = json.dumps(record.get("output"), separators=(",", ":"))
        out["OutputDetails"] = {"Included": True}
        out["RedriveStatus"] = "NOT_REDRIVABLE"
        out["RedriveStatusReason"] = "Execution is SUCCEEDED and cannot be redriven"
    else:
        out["Error"] = record.get("error")
        out["Cause"] = record.get("cause")
        out["RedriveStatus"] = "NOT_REDRIVABLE"
        out["RedriveStatusReason"] = "Execution is a child of a Map Run; redrive the parent execution"
    return out
