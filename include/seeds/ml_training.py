"""Local stack seed for ``ml_training``: bucket, SageMaker role, the dataset Lambda and its CSVs.

moto runs no user code, so the Lambda is deployed (for the pipeline to invoke) and its own
``build_datasets`` is called here to put the CSVs where the training job reads them.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import zipfile
from pathlib import Path

INCLUDE = Path(__file__).resolve().parents[1]
BUCKET = os.environ.get("ASL_ML_BUCKET", "asl-airflow-ml")
FUNCTION = "asl-airflow-generate-dataset"
ROLE = "asl-airflow-sagemaker"


def _handler_module():
    spec = importlib.util.spec_from_file_location("generate_dataset", INCLUDE / "lambdas" / "generate_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed(endpoint: str, region: str) -> None:
    import boto3

    session = boto3.session.Session(region_name=region)
    s3 = session.client("s3", endpoint_url=endpoint)
    iam = session.client("iam", endpoint_url=endpoint)
    lam = session.client("lambda", endpoint_url=endpoint)
    if region == "us-east-1":
        s3.create_bucket(Bucket=BUCKET)
    else:
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": ["sagemaker.amazonaws.com", "lambda.amazonaws.com"]}}]}
    role = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as zf:
        zf.write(INCLUDE / "lambdas" / "generate_dataset.py", "generate_dataset.py")
    lam.create_function(
        FunctionName=FUNCTION, Runtime="python3.12", Role=role, Handler="generate_dataset.handler",
        Code={"ZipFile": code.getvalue()}, Environment={"Variables": {"BUCKET": BUCKET}},
    )
    for key, body in _handler_module().build_datasets().items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode(), ContentType="text/csv")
