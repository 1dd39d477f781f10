"""Shared by the platform seeds: the lake bucket, IAM roles and the sample data each layer reads.

moto runs no user code (no DataSync copy, no DMS load, no Glue script), so the seeds put in S3
what those steps would have written, computed here with the same rules as the real code
(``include/glue/curate_orders.py``). Deterministic: the same rows on every fresh stack.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
from datetime import date, timedelta
from typing import Any

LAKE = os.environ.get("ASL_LAKE_BUCKET", "asl-airflow-lake")
ACCOUNT = "123456789012"  # moto's default account
ORDER_COLUMNS = ["order_id", "customer_id", "order_date", "amount", "currency", "status"]
CUSTOMER_COLUMNS = ["customer_id", "name", "segment", "country"]
CURATED_COLUMNS = ["order_id", "customer_id", "customer_segment", "country", "order_date", "amount_eur", "status"]
#: fixed reference rates, as the Glue job's --fx_rates default
FX_TO_EUR = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17}
STATUSES = ["placed", "shipped", "delivered", "returned", "cancelled"]


def session(region: str) -> Any:
    import boto3

    return boto3.session.Session(region_name=region)


def ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket in existing:
        return
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def ensure_role(iam: Any, name: str, services: list[str]) -> str:
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": services}}]}
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def customers(count: int = 40, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {"customer_id": 1000 + i, "name": f"Customer {i:03d}",
         "segment": rng.choice(["consumer", "smb", "enterprise"]), "country": rng.choice(["DE", "FR", "GB", "US"])}
        for i in range(count)
    ]


def orders(count: int = 200, seed: int = 11, start: date = date(2025, 6, 1), days: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {"order_id": 500000 + i, "customer_id": 1000 + rng.randrange(40),
         "order_date": (start + timedelta(days=rng.randrange(days))).isoformat(),
         "amount": round(rng.uniform(5, 900), 2), "currency": rng.choice(list(FX_TO_EUR)),
         "status": rng.choice(STATUSES)}
        for i in range(count)
    ]


def curate(order_rows: list[dict[str, Any]], customer_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What ``curate_orders.py`` computes: orders joined to their customer, amounts in EUR, no cancellations."""
    by_id = {c["customer_id"]: c for c in customer_rows}
    out = []
    for o in order_rows:
        customer = by_id.get(o["customer_id"])
        if customer is None or o["status"] == "cancelled":
            continue
        out.append({
            "order_id": o["order_id"], "customer_id": o["customer_id"], "customer_segment": customer["segment"],
            "country": customer["country"], "order_date": o["order_date"],
            "amount_eur": round(o["amount"] * FX_TO_EUR[o["currency"]], 2), "status": o["status"],
        })
    return out


def to_csv(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: row.get(k) for k in columns} for row in rows)
    return buffer.getvalue().encode()
