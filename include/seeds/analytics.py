"""Local stack seed for ``analytics``: Athena workgroup and the query's rows, Redshift cluster and
COPY role, EMR Serverless application and job role with the Spark script, the QuickSight dataset.

moto runs no SQL: Athena returns the rows queued at ``/moto-api/static/athena/query-results``, so
the seed queues the daily revenue the query computes over the curated orders (``_lake.curate``,
the Glue job's rules). The EMR Serverless application id is random, so it is a seed output
(``ASL_EMR_APPLICATION_ID``), the way a deployment passes it to the DAG.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

INCLUDE = Path(__file__).resolve().parents[1]
WORKGROUP = "asl-airflow-analytics"
CLUSTER = "asl-airflow-dw"
DATASET = "asl-airflow-daily-revenue"
APPLICATION = "asl-airflow-spark"


def _lake() -> Any:
    spec = importlib.util.spec_from_file_location("asl_seed_lake", Path(__file__).with_name("_lake.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def daily_revenue(curated: list[dict[str, Any]]) -> list[tuple[str, int, float]]:
    """``SELECT order_date, count(*), sum(amount_eur) ... GROUP BY order_date ORDER BY order_date``."""
    days: dict[str, list[float]] = defaultdict(list)
    for row in curated:
        days[row["order_date"]].append(row["amount_eur"])
    return [(day, len(amounts), round(sum(amounts), 2)) for day, amounts in sorted(days.items())]


def _queue_athena_rows(endpoint: str, region: str, rows: list[tuple[str, int, float]], copies: int = 3) -> None:
    header = {"Data": [{"VarCharValue": "order_date"}, {"VarCharValue": "orders"}, {"VarCharValue": "revenue"}]}
    data = [{"Data": [{"VarCharValue": d}, {"VarCharValue": str(n)}, {"VarCharValue": f"{r:.2f}"}]} for d, n, r in rows]
    columns = [{"Name": "order_date", "Type": "date"}, {"Name": "orders", "Type": "bigint"},
               {"Name": "revenue", "Type": "double"}]
    body = {"region": region, "results": [{"rows": [header, *data], "column_info": columns}] * copies}
    req = urllib.request.Request(f"{endpoint}/moto-api/static/athena/query-results", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def seed(endpoint: str, region: str) -> dict[str, str]:
    lake = _lake()
    aws = lake.session(region)
    s3 = aws.client("s3", endpoint_url=endpoint)
    iam = aws.client("iam", endpoint_url=endpoint)
    lake.ensure_bucket(s3, lake.LAKE, region)

    aws.client("athena", endpoint_url=endpoint).create_work_group(
        Name=WORKGROUP, Description="Analytics layer queries",
        Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{lake.LAKE}/athena-results/"},
                       "EnforceWorkGroupConfiguration": False, "PublishCloudWatchMetricsEnabled": True},
    )
    _queue_athena_rows(endpoint, region, daily_revenue(lake.curate(lake.orders(), lake.customers())))

    copy_role = lake.ensure_role(iam, "asl-airflow-redshift-copy", ["redshift.amazonaws.com"])
    aws.client("redshift", endpoint_url=endpoint).create_cluster(
        ClusterIdentifier=CLUSTER, NodeType="ra3.xlplus", NumberOfNodes=2, DBName="analytics",
        MasterUsername="admin", MasterUserPassword="LocalStack1only", IamRoles=[copy_role],
    )

    emr_role = lake.ensure_role(iam, "asl-airflow-emr-serverless", ["emr-serverless.amazonaws.com"])
    s3.put_object(Bucket=lake.LAKE, Key="scripts/customer_ltv.py",
                  Body=(INCLUDE / "spark" / "customer_ltv.py").read_bytes())
    application = aws.client("emr-serverless", endpoint_url=endpoint).create_application(
        name=APPLICATION, releaseLabel="emr-7.2.0", type="SPARK",
        autoStartConfiguration={"enabled": True}, autoStopConfiguration={"enabled": True, "idleTimeoutMinutes": 15},
    )["applicationId"]

    aws.client("quicksight", endpoint_url=endpoint).create_data_set(
        AwsAccountId=lake.ACCOUNT, DataSetId=DATASET, Name="Daily revenue", ImportMode="SPICE",
        PhysicalTableMap={"revenue": {"S3Source": {
            "DataSourceArn": f"arn:aws:quicksight:{region}:{lake.ACCOUNT}:datasource/asl-airflow-lake",
            "InputColumns": [{"Name": "order_date", "Type": "STRING"}, {"Name": "revenue", "Type": "DECIMAL"}]}}},
    )
    return {"ASL_EMR_APPLICATION_ID": application, "ASL_EMR_JOB_ROLE_ARN": emr_role,
            "ASL_REDSHIFT_COPY_ROLE_ARN": copy_role}
