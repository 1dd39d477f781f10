"""Lambda handler: generate the training and test CSVs of the ML training pipeline.

A synthetic binary-classification data set (XGBoost ``reg:logistic``): label first, then
features, no header, as SageMaker's built-in XGBoost expects for ``text/csv``. Uses only the
standard library and boto3, so it runs in any Lambda Python runtime as it is.
"""

from __future__ import annotations

import math
import os
import random

FEATURES = 4


def make_rows(count: int, seed: int) -> list[list[float]]:
    """Rows of ``[label, x1..x4]``: the label follows a logistic function of the features."""
    rng = random.Random(seed)
    weights = [1.5, -2.0, 0.75, 0.5]
    rows = []
    for _ in range(count):
        xs = [rng.uniform(-1, 1) for _ in range(FEATURES)]
        p = 1 / (1 + math.exp(-sum(w * x for w, x in zip(weights, xs, strict=True))))
        rows.append([1.0 if rng.random() < p else 0.0, *xs])
    return rows


def to_csv(rows: list[list[float]], with_label: bool = True) -> str:
    lines = []
    for row in rows:
        values = row if with_label else row[1:]
        lines.append(",".join(f"{v:.6g}" for v in values))
    return "\n".join(lines) + "\n"


def build_datasets(train_rows: int = 800, test_rows: int = 200, seed: int = 42) -> dict[str, str]:
    """The object keys and CSV bodies the pipeline reads (``csv/train.csv``, ``csv/test.csv``)."""
    return {
        "csv/train.csv": to_csv(make_rows(train_rows, seed)),
        "csv/test.csv": to_csv(make_rows(test_rows, seed + 1), with_label=False),
    }


def handler(event, context):  # noqa: ANN001 - the Lambda runtime's signature
    import boto3

    bucket = (event or {}).get("bucket") or os.environ["BUCKET"]
    s3 = boto3.client("s3")
    datasets = build_datasets()
    for key, body in datasets.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="text/csv")
    return {"bucket": bucket, "objects": sorted(datasets), "train": f"s3://{bucket}/csv/train.csv",
            "test": f"s3://{bucket}/csv/test.csv"}
