"""Local stack seed for ``realtime_scoring``: the clickstream Kinesis stream, the fraud model's SageMaker
endpoint, the Glue table Firehose converts to Parquet with, the Firehose delivery stream to the lake,
and the Redshift COPY job that loads what Firehose delivers.

moto runs no model: the endpoint is created for the machine to call, and the local stack's server
answers a CSV batch with one placeholder score per line (``devstack._sagemaker_runtime_scores``).
Firehose's Parquet conversion is done by the local stack's server too (``_firehose_format_conversion``),
from the same DataFormatConversionConfiguration a deployment gives the delivery stream. The sample
execution input is ``include/samples/realtime_scoring.json`` (``clickstream_records`` makes events).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

STREAM = "asl-airflow-clickstream"
ENDPOINT = "asl-airflow-fraud-scorer"
DELIVERY = "asl-airflow-scored-events"
DATABASE, TABLE = "asl_airflow_lake", "realtime_scored_events"
CLUSTER = "asl-airflow-dw"
#: the Glue table Firehose converts with (Parquet column types); the GX suite checks the same columns
COLUMNS = [("event_id", "string"), ("user_id", "bigint"), ("amount", "double"), ("items", "int"),
           ("account_age_days", "int"), ("ts", "string"), ("fraud_score", "double"), ("scored_at", "string"),
           ("shard_id", "string"), ("sequence_number", "string"), ("batch", "string")]


def _lake() -> Any:
    spec = importlib.util.spec_from_file_location("asl_seed_lake", Path(__file__).with_name("_lake.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clickstream_events(count: int = 8, seed: int = 21, start: datetime | None = None,
                       run: str = "e") -> list[dict[str, Any]]:
    """Checkout events as the web tier puts them on the stream."""
    rng = random.Random(seed)
    start = start or datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    return [{"event_id": f"{run}-{i:06d}", "user_id": 7000 + rng.randrange(50),
             "amount": round(rng.uniform(3, 1500), 2), "items": rng.randint(1, 6),
             "account_age_days": rng.randint(0, 2000),
             "ts": (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")} for i in range(count)]


def clickstream_records(events: list[dict[str, Any]], shard: str = "shardId-000000000000") -> dict[str, Any]:
    """One KinesisTrigger event as the watcher emits it (``message_batch``, data base64)."""
    return {"status": "success", "message_batch": [
        {"ShardId": shard, "SequenceNumber": f"4963{i:052d}", "PartitionKey": str(e["user_id"]),
         "ApproximateArrivalTimestamp": e["ts"].replace("Z", "+00:00"),
         "Data": base64.b64encode(json.dumps(e).encode()).decode()} for i, e in enumerate(events)]}


def seed(endpoint: str, region: str) -> dict[str, str]:
    lake = _lake()
    aws = lake.session(region)
    client = lambda name: aws.client(name, endpoint_url=endpoint)  # noqa: E731
    s3, iam = client("s3"), client("iam")
    lake.ensure_bucket(s3, lake.LAKE, region)

    kinesis = client("kinesis")
    if STREAM not in kinesis.list_streams().get("StreamNames", []):
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)

    sagemaker = client("sagemaker")
    role = lake.ensure_role(iam, "asl-airflow-sagemaker", ["sagemaker.amazonaws.com"])
    sagemaker.create_model(ModelName=ENDPOINT, ExecutionRoleArn=role, PrimaryContainer={
        "Image": f"683313688378.dkr.ecr.{region}.amazonaws.com/sagemaker-xgboost:1.7-1",
        "ModelDataUrl": f"s3://{lake.LAKE}/models/fraud-scorer/model.tar.gz"})
    sagemaker.create_endpoint_config(EndpointConfigName=ENDPOINT, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": ENDPOINT, "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)

    glue = client("glue")
    try:
        glue.create_database(DatabaseInput={"Name": DATABASE})
    except glue.exceptions.AlreadyExistsException:
        pass
    glue.create_table(DatabaseName=DATABASE, TableInput={
        "Name": TABLE, "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in COLUMNS],
            "Location": f"s3://{lake.LAKE}/realtime/scored/",
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}})

    firehose_role = lake.ensure_role(iam, "asl-airflow-firehose", ["firehose.amazonaws.com"])
    client("firehose").create_delivery_stream(
        DeliveryStreamName=DELIVERY, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": firehose_role, "BucketARN": f"arn:aws:s3:::{lake.LAKE}",
            "Prefix": "realtime/scored/", "ErrorOutputPrefix": "realtime/errors/", "FileExtension": ".parquet",
            # record format conversion needs a buffer of at least 64 MiB
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60},
            "DataFormatConversionConfiguration": {
                "Enabled": True,
                "SchemaConfiguration": {"RoleARN": firehose_role, "DatabaseName": DATABASE, "TableName": TABLE,
                                        "Region": region, "VersionId": "LATEST"},
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}},
            }})

    redshift = client("redshift")
    copy_role = lake.ensure_role(iam, "asl-airflow-redshift-copy", ["redshift.amazonaws.com"])
    try:
        redshift.describe_clusters(ClusterIdentifier=CLUSTER)
    except redshift.exceptions.ClusterNotFoundFault:
        redshift.create_cluster(ClusterIdentifier=CLUSTER, NodeType="ra3.xlplus", NumberOfNodes=2, DBName="analytics",
                                MasterUsername="admin", MasterUserPassword="LocalStack1only", IamRoles=[copy_role])
    # the COPY job the machine runs (COPY JOB RUN): it remembers which files it loaded, so each file
    # Firehose delivers is loaded once (moto stores the statement; it runs no SQL)
    client("redshift-data").execute_statement(
        ClusterIdentifier=CLUSTER, Database="analytics", DbUser="etl",
        Sql=(f"COPY realtime.scored_events FROM 's3://{lake.LAKE}/realtime/scored/' IAM_ROLE '{copy_role}' "
             "FORMAT AS PARQUET JOB CREATE realtime_scored_events AUTO OFF"))
    return {}
