"""Local stack seed for ``ingestion_datasync``: the share, the lake, the DataSync locations and task.

moto has no NFS/SMB-to-S3 copy: the on-premises NFS export is stood in for by an S3 location on a
"share" bucket (moto implements S3 and SMB locations only, and copies no bytes), and the raw zone
gets the files the transfer would have written. The task ARN is a seed output
(``ASL_DATASYNC_TASK_ARN``), the way a deployment passes it to the DAG.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

SHARE = "asl-airflow-share"
TASK_NAME = "asl-airflow-orders-ingest"
EXPORT = "orders-2025-06-01.csv"


def _lake() -> Any:
    spec = importlib.util.spec_from_file_location("asl_seed_lake", Path(__file__).with_name("_lake.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed(endpoint: str, region: str) -> dict[str, str]:
    lake = _lake()
    aws = lake.session(region)
    s3 = aws.client("s3", endpoint_url=endpoint)
    iam = aws.client("iam", endpoint_url=endpoint)
    datasync = aws.client("datasync", endpoint_url=endpoint)
    for bucket in (SHARE, lake.LAKE):
        lake.ensure_bucket(s3, bucket, region)
    body = lake.to_csv(lake.orders(), lake.ORDER_COLUMNS)
    s3.put_object(Bucket=SHARE, Key=f"exports/orders/{EXPORT}", Body=body, ContentType="text/csv")
    # what the transfer writes (moto copies nothing)
    s3.put_object(Bucket=lake.LAKE, Key=f"raw/orders/{EXPORT}", Body=body, ContentType="text/csv")
    role = lake.ensure_role(iam, "asl-airflow-datasync", ["datasync.amazonaws.com"])
    source = datasync.create_location_s3(
        S3BucketArn=f"arn:aws:s3:::{SHARE}", Subdirectory="/exports/orders/", S3Config={"BucketAccessRoleArn": role},
    )["LocationArn"]
    destination = datasync.create_location_s3(
        S3BucketArn=f"arn:aws:s3:::{lake.LAKE}", Subdirectory="/raw/orders/", S3Config={"BucketAccessRoleArn": role},
    )["LocationArn"]
    task = datasync.create_task(
        SourceLocationArn=source, DestinationLocationArn=destination, Name=TASK_NAME,
        Options={"VerifyMode": "ONLY_FILES_TRANSFERRED", "OverwriteMode": "ALWAYS", "TransferMode": "CHANGED"},
    )["TaskArn"]
    return {"ASL_DATASYNC_TASK_ARN": task}
