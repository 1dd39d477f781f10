"""Local stack seed for ``ml_tuning``: the validation channel the tuning job reads.

The bucket, the SageMaker role, the dataset Lambda and train/test CSVs come from the
``ml_training`` seed (seeds run in name order); tuning also needs ``csv/validation.csv``, made here
with the same generator (another seed, so other rows than train and test).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

INCLUDE = Path(__file__).resolve().parents[1]
BUCKET = os.environ.get("ASL_ML_BUCKET", "asl-airflow-ml")


def seed(endpoint: str, region: str) -> None:
    import boto3

    spec = importlib.util.spec_from_file_location("generate_dataset", INCLUDE / "lambdas" / "generate_dataset.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    rows = generator.make_rows(200, seed=4242)
    s3 = boto3.session.Session(region_name=region).client("s3", endpoint_url=endpoint)
    s3.put_object(Bucket=BUCKET, Key="csv/validation.csv", Body=generator.to_csv(rows).encode(), ContentType="text/csv")
